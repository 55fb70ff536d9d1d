//! A service wiring the client's spans and metrics into OpenTelemetry: tracing-opentelemetry's
//! span and metrics layers on a `tracing_subscriber::Registry`, exporting through the
//! OpenTelemetry SDK. This example exports to memory and prints what was exported; a service
//! swaps in its OTLP exporter (`opentelemetry-otlp`) and changes nothing else.
//!
//! Runs offline against the embedded local endpoint:
//!
//! ```text
//! cargo run --example otel
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

use azureml_endpoint::local::LocalEndpoint;
use azureml_endpoint::{ApiType, AzureMlChatOnlineEndpoint, ChatMessage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The OpenTelemetry SDK: a tracer provider and a meter provider with their exporters.
    let spans = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let metrics = InMemoryMetricExporter::default();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();

    // 2. `tracing` → OpenTelemetry: spans through `layer()`, the crate's metric events through
    //    `MetricsLayer`, at debug and above (trace adds each request's and response's headers).
    //    Installed once, at startup, for the whole process.
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::DEBUG)
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("my-service")))
        .with(tracing_opentelemetry::MetricsLayer::new(meter_provider.clone()));
    tracing::subscriber::set_global_default(subscriber)?;

    // 3. The client, as the service builds it anyway. Each call is one span of kind client.
    let server = LocalEndpoint::start()?;
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.chat_url())
        .api_type(ApiType::Serverless)
        .api_key("any-key-works-locally")
        .model("local-model")
        .build()?;
    {
        // The service's own span: the client's spans nest under it.
        let _request = tracing::info_span!("handle /summarize").entered();
        let reply = chat.invoke(&[ChatMessage::user("Say hello.")])?;
        println!("reply: {}", reply.message.text());
        let streamed: String = chat
            .stream(&[ChatMessage::user("Stream this.")])?
            .map(|chunk| chunk.map(|c| c.text))
            .collect::<Result<_, _>>()?;
        println!("streamed: {streamed}");
    }

    // 4. What was exported.
    tracer_provider.force_flush()?;
    meter_provider.force_flush()?;
    for span in spans.get_finished_spans()? {
        println!("\nspan {:?} ({:?})", span.name, span.span_kind);
        for kv in &span.attributes {
            println!("    {} = {}", kv.key, kv.value);
        }
        for event in span.events.iter() {
            println!("    event {:?}", event.name);
        }
    }
    for resource in metrics.get_finished_metrics()?.iter().rev().take(1) {
        for metric in resource.scope_metrics().flat_map(|s| s.metrics()) {
            let points = match metric.data() {
                AggregatedMetrics::F64(MetricData::Histogram(h)) => h
                    .data_points()
                    .map(|p| format!("count {} sum {:.4}", p.count(), p.sum()))
                    .collect::<Vec<_>>(),
                AggregatedMetrics::U64(MetricData::Histogram(h)) => h
                    .data_points()
                    .map(|p| format!("count {} sum {}", p.count(), p.sum()))
                    .collect(),
                _ => Vec::new(),
            };
            println!("\nmetric {}: {}", metric.name(), points.join("; "));
        }
    }
    meter_provider.shutdown()?;
    tracer_provider.shutdown()?;
    Ok(())
}
