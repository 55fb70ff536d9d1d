//! Observability: the spans, events and metrics a call emits, through the real OpenTelemetry
//! pipeline (tracing-opentelemetry's layers, the SDK's in-memory exporters); the same events for
//! a `log` logger when no `tracing` subscriber is installed; and no secret in any span, event or
//! log line at any level while servers echo the key back.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::support::fault::{event, head, response, sse, Act, End, FaultServer, Step, DONE};
use crate::support::KEY;
use azureml_endpoint::credential::{from_fn, AccessToken};
use azureml_endpoint::formatter::Gpt2ContentFormatter;
use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, CallOptions, ChatMessage, Error,
};
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::{json, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHAT_PATH: &str = "/v1/chat/completions";
const COMPLETIONS_PATH: &str = "/v1/completions";

/// What the OpenTelemetry pipeline exported while `f` ran.
struct Exported<R> {
    out: R,
    spans: Vec<SpanData>,
    metrics: Vec<ResourceMetrics>,
}

/// Runs `f` with tracing-opentelemetry's span and metrics layers installed on this thread,
/// exporting to the SDK's in-memory exporters.
fn with_otel<R>(f: impl FnOnce() -> R) -> Exported<R> {
    let span_exporter = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(span_exporter.clone())
        .build();
    let metric_exporter = InMemoryMetricExporter::default();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metric_exporter.clone()).build())
        .build();
    // Only the attributes the crate records: no code location, thread, target, level or timing.
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer_provider.tracer("test"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_level(false)
        .with_tracked_inactivity(false);
    let subscriber = Registry::default()
        .with(spans)
        .with(tracing_opentelemetry::MetricsLayer::new(meter_provider.clone()));
    let out = scoped(subscriber, f);
    tracer_provider.force_flush().unwrap();
    meter_provider.force_flush().unwrap();
    let exported = Exported {
        out,
        spans: span_exporter.get_finished_spans().unwrap(),
        metrics: metric_exporter.get_finished_metrics().unwrap(),
    };
    meter_provider.shutdown().unwrap();
    exported
}

/// Runs `f` under `subscriber`, alone among this binary's tests that call a client: `tracing`
/// caches each call site's interest process-wide, and a client call on another thread while this
/// subscriber registers can leave an event cached as "nobody listens" for it.
fn scoped<S, T>(subscriber: S, f: impl FnOnce() -> T) -> T
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    let _alone = crate::ENV.lock().unwrap_or_else(PoisonError::into_inner);
    tracing::subscriber::with_default(subscriber, f)
}

/// A span's attributes as text.
fn attributes(span: &SpanData) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn expected(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A span's events but the trace-level headers: name, then its attributes as `key=value`,
/// without times.
fn events(span: &SpanData) -> Vec<String> {
    all_events(span)
        .into_iter()
        .filter(|e| !e.contains(" headers "))
        .collect()
}

/// A span's events: name, then its attributes as `key=value`, without times, levels and targets.
fn all_events(span: &SpanData) -> Vec<String> {
    span.events
        .iter()
        .map(|e| {
            let mut line = e.name.to_string();
            for kv in &e.attributes {
                let skip = ["azureml.elapsed", "azureml.wait", "level", "target"];
                if !skip.contains(&kv.key.as_str()) {
                    write!(line, " {}={}", kv.key, kv.value).unwrap();
                }
            }
            line
        })
        .collect()
}

/// Each data point of the histogram `name` (last export): its attributes, count and sum.
fn histogram(metrics: &[ResourceMetrics], name: &str) -> Vec<(BTreeMap<String, String>, u64, f64)> {
    let last = metrics.last().expect("metrics were exported");
    let metric = last
        .scope_metrics()
        .flat_map(|s| s.metrics())
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no metric {name}"));
    let attrs = |it: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
        it.map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let mut points: Vec<_> = match metric.data() {
        AggregatedMetrics::F64(MetricData::Histogram(h)) => h
            .data_points()
            .map(|p| (attrs(&mut p.attributes()), p.count(), p.sum()))
            .collect(),
        AggregatedMetrics::U64(MetricData::Histogram(h)) => h
            .data_points()
            .map(|p| (attrs(&mut p.attributes()), p.count(), p.sum() as f64))
            .collect(),
        other => panic!("{name} is not a histogram: {other:?}"),
    };
    points.sort_by(|a, b| a.0.cmp(&b.0));
    points
}

fn chat_client(server: &FaultServer) -> azureml_endpoint::Result<AzureMlChatOnlineEndpoint> {
    AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .model("gpt-test")
        .max_retries(1)
        .build()
}

const CHAT_REPLY: &str = r#"{"id": "chatcmpl-7", "object": "chat.completion", "model": "gpt-test-0613",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}"#;

#[test]
fn a_chat_call_is_one_client_span_with_the_gen_ai_attributes_and_metrics() -> TestResult {
    let server = FaultServer::start(vec![response(200, &[("x-request-id", "req-1")], CHAT_REPLY)]);
    let chat = chat_client(&server)?;
    let options = CallOptions::new()
        .param("temperature", 0.5)
        .param("max_tokens", 20)
        .stop(["END"]);
    let run = with_otel(|| chat.invoke_with(&[ChatMessage::user("Hello")], &options));
    assert_eq!(run.out?.message.text(), "Hi there");

    assert_eq!(run.spans.len(), 1);
    let span = &run.spans[0];
    assert_eq!(span.name, "chat gpt-test");
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(span.status, Status::Unset);
    let port = server.port.to_string();
    assert_eq!(
        attributes(span),
        expected(&[
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.provider.name", "azure.ai.inference"),
            ("server.address", "127.0.0.1"),
            ("server.port", &port),
            ("gen_ai.request.model", "gpt-test"),
            ("gen_ai.request.max_tokens", "20"),
            ("gen_ai.request.temperature", "0.5"),
            ("gen_ai.request.stop_sequences", r#"["END"]"#),
            ("gen_ai.response.id", "chatcmpl-7"),
            ("gen_ai.response.model", "gpt-test-0613"),
            ("gen_ai.response.finish_reasons", r#"["stop"]"#),
            ("gen_ai.usage.input_tokens", "7"),
            ("gen_ai.usage.output_tokens", "3"),
            ("azureml.request_id", "req-1"),
            ("azureml.attempts", "1"),
            ("azureml.auth", "key"),
        ])
    );
    assert_eq!(
        all_events(span),
        [
            "request headers azureml.headers=content-type: application/json; accept: application/json; \
             authorization: ***; api-key: ***"
                .to_owned(),
            format!(
                "attempt azureml.attempt=1 http.request.method=POST server.address=127.0.0.1 \
                 url.path={CHAT_PATH} http.response.status_code=200 azureml.request_id=req-1"
            ),
            "response headers azureml.headers=connection: close; x-request-id: req-1; content-length: 267"
                .to_owned(),
        ]
    );

    let common = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "azure.ai.inference"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("gen_ai.request.model", "gpt-test"),
        ("gen_ai.response.model", "gpt-test-0613"),
    ];
    let duration = histogram(&run.metrics, "gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1);
    assert_eq!((&duration[0].0, duration[0].1), (&expected(&common), 1));
    assert!(duration[0].2 > 0.0 && duration[0].2 < 10.0, "{duration:?}");
    let with_type = |kind: &str| {
        let mut pairs = common.to_vec();
        pairs.push(("gen_ai.token.type", kind));
        expected(&pairs)
    };
    assert_eq!(
        histogram(&run.metrics, "gen_ai.client.token.usage"),
        [(with_type("input"), 1, 7.0), (with_type("output"), 1, 3.0)]
    );
    Ok(())
}

#[test]
fn a_failed_call_has_its_attempts_waits_and_error_type() -> TestResult {
    let server = FaultServer::start(vec![
        response(429, &[("retry-after-ms", "5"), ("x-request-id", "r1")], "{}"),
        response(
            503,
            &[("x-request-id", "r2")],
            r#"{"error": {"message": "busy"}}"#,
        ),
    ]);
    let chat = chat_client(&server)?;
    let run = with_otel(|| chat.invoke(&[ChatMessage::user("Hello")]));
    assert_eq!(run.out.unwrap_err().status(), Some(503));

    let span = &run.spans[0];
    assert_eq!(span.name, "chat gpt-test");
    assert_eq!(span.status, Status::error(""));
    let attrs = attributes(span);
    assert_eq!(attrs.get("error.type").map(String::as_str), Some("503"));
    assert_eq!(attrs.get("azureml.attempts").map(String::as_str), Some("2"));
    assert_eq!(attrs.get("azureml.request_id").map(String::as_str), Some("r2"));
    assert!(!attrs.contains_key("gen_ai.response.id"), "{attrs:?}");
    let path = format!("url.path={CHAT_PATH}");
    assert_eq!(
        events(span),
        [
            format!("attempt azureml.attempt=1 http.request.method=POST server.address=127.0.0.1 {path} http.response.status_code=429 azureml.request_id=r1"),
            "retry wait azureml.attempt=1 azureml.wait.reason=retry-after http.response.status_code=429".to_owned(),
            format!("attempt azureml.attempt=2 http.request.method=POST server.address=127.0.0.1 {path} http.response.status_code=503 azureml.request_id=r2"),
            "call failed error.type=503 azureml.attempts=2".to_owned(),
        ]
    );
    let duration = histogram(&run.metrics, "gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1);
    assert_eq!(duration[0].0.get("error.type").map(String::as_str), Some("503"));
    assert!(!duration[0].0.contains_key("gen_ai.response.model"));
    Ok(())
}

/// A completion stream: an id and model in the first event, text, then the finish reason and
/// usage.
fn completion_stream() -> Vec<Act> {
    let chunk = |text: &str, finish: Value, usage: Value| {
        event(
            &json!({"id": "cmpl-9", "object": "text_completion", "model": "phi-3",
            "choices": [{"index": 0, "text": text, "finish_reason": finish}], "usage": usage}),
        )
    };
    sse(
        vec![
            Step::Write(chunk("Once", Value::Null, Value::Null)),
            Step::Pause(Duration::from_millis(30)),
            Step::Write(chunk(" upon", Value::Null, Value::Null)),
            Step::Write(chunk(
                "",
                "length".into(),
                json!({"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}),
            )),
            Step::Write(DONE.to_owned()),
        ],
        End::Chunked,
    )
}

fn completions_client(server: &FaultServer) -> azureml_endpoint::Result<AzureMlOnlineEndpoint> {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url(COMPLETIONS_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .max_retries(0)
        .build()
}

#[test]
fn a_stream_span_lasts_until_the_end_and_records_time_to_first_chunk() -> TestResult {
    let server = FaultServer::start(vec![completion_stream(), completion_stream()]);
    let llm = completions_client(&server)?;
    let run = with_otel(|| -> azureml_endpoint::Result<(String, usize)> {
        let mut text = String::new();
        for chunk in llm.stream("Tell me")? {
            text.push_str(&chunk?.text);
        }
        // The second is dropped after its first chunk.
        let mut second = llm.stream("Tell me")?;
        second.next().transpose()?;
        std::thread::sleep(Duration::from_millis(50));
        drop(second);
        Ok((text, 0))
    });
    assert_eq!(run.out?.0, "Once upon");

    assert_eq!(run.spans.len(), 2);
    let (whole, dropped) = (&run.spans[0], &run.spans[1]);
    assert_eq!(whole.name, "text_completion");
    let attrs = attributes(whole);
    let first_chunk: f64 = attrs["gen_ai.response.time_to_first_chunk"].parse()?;
    let lasted = whole.end_time.duration_since(whole.start_time)?.as_secs_f64();
    assert!(
        first_chunk > 0.0 && first_chunk < lasted,
        "{first_chunk} of {lasted}"
    );
    // The span ends after the last chunk, not at the first byte: the 30 ms pause is inside.
    assert!(lasted - first_chunk >= 0.025, "{first_chunk} of {lasted}");
    for (key, value) in [
        ("gen_ai.operation.name", "text_completion"),
        ("gen_ai.provider.name", "azure.ai.inference"),
        ("gen_ai.request.stream", "true"),
        ("gen_ai.response.id", "cmpl-9"),
        ("gen_ai.response.model", "phi-3"),
        ("gen_ai.response.finish_reasons", r#"["length"]"#),
        ("gen_ai.usage.input_tokens", "4"),
        ("gen_ai.usage.output_tokens", "2"),
        ("azureml.attempts", "1"),
    ] {
        assert_eq!(
            attrs.get(key).map(String::as_str),
            Some(value),
            "{key}: {attrs:?}"
        );
    }
    assert!(!attrs.contains_key("gen_ai.request.model"), "{attrs:?}");

    // Dropped part-way: it ends at the drop, without a finish reason or error.
    let attrs = attributes(dropped);
    let lasted = dropped.end_time.duration_since(dropped.start_time)?;
    assert!(lasted >= Duration::from_millis(50), "{lasted:?}");
    assert!(
        attrs.contains_key("gen_ai.response.time_to_first_chunk"),
        "{attrs:?}"
    );
    assert!(!attrs.contains_key("gen_ai.response.finish_reasons"), "{attrs:?}");
    assert_eq!(dropped.status, Status::Unset);

    let duration = histogram(&run.metrics, "gen_ai.client.operation.duration");
    assert_eq!(duration.iter().map(|d| d.1).sum::<u64>(), 2);
    let tokens = histogram(&run.metrics, "gen_ai.client.token.usage");
    assert_eq!(
        tokens.iter().map(|t| (t.1, t.2)).collect::<Vec<_>>(),
        [(1, 4.0), (1, 2.0)]
    );
    Ok(())
}

#[test]
fn a_cut_stream_ends_its_span_with_the_error() -> TestResult {
    let cut = sse(
        vec![Step::Write(event(
            &json!({"choices": [{"index": 0, "text": "half", "finish_reason": null}]}),
        ))],
        End::ChunkedCut,
    );
    let server = FaultServer::start(vec![cut]);
    let llm = completions_client(&server)?;
    let run = with_otel(|| llm.stream("Tell me").map(|s| s.collect::<Vec<_>>()));
    let items = run.out?;
    assert!(matches!(items.last(), Some(Err(Error::Stream(_)))), "{items:?}");
    let span = &run.spans[0];
    assert_eq!(span.status, Status::error(""));
    assert_eq!(
        attributes(span).get("error.type").map(String::as_str),
        Some("stream_cut")
    );
    assert_eq!(
        events(span).last().map(String::as_str),
        Some("call failed error.type=stream_cut")
    );
    Ok(())
}

#[test]
fn content_is_recorded_only_on_opt_in() -> TestResult {
    let server = FaultServer::start(vec![
        response(200, &[], CHAT_REPLY),
        response(200, &[], CHAT_REPLY),
        response(200, &[], CHAT_REPLY),
    ]);
    let conversation = [ChatMessage::system("Be brief."), ChatMessage::user("Hello")];
    let opted_in = |builder: azureml_endpoint::AzureMlChatOnlineEndpointBuilder| {
        builder
            .endpoint_url(server.url(CHAT_PATH))
            .api_type(ApiType::Serverless)
            .api_key(KEY)
            .build()
    };
    let by_env = opted_in(
        AzureMlChatOnlineEndpoint::builder()
            .env_vars([("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "TRUE")]),
    )?;
    let by_setting = opted_in(AzureMlChatOnlineEndpoint::builder().capture_message_content(true))?;
    let not = opted_in(AzureMlChatOnlineEndpoint::builder())?;
    assert!(by_env.config().capture_message_content);
    let run = with_otel(|| -> azureml_endpoint::Result<()> {
        by_env.invoke(&conversation)?;
        by_setting.invoke(&conversation)?;
        not.invoke(&conversation)?;
        Ok(())
    });
    run.out?;
    let input = json!([
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Hello"}]},
    ]);
    let output = json!([
        {"role": "assistant", "parts": [{"type": "text", "content": "Hi there"}], "finish_reason": "stop"}
    ]);
    for span in &run.spans[..2] {
        let attrs = attributes(span);
        assert_eq!(
            serde_json::from_str::<Value>(&attrs["gen_ai.input.messages"])?,
            input
        );
        assert_eq!(
            serde_json::from_str::<Value>(&attrs["gen_ai.output.messages"])?,
            output
        );
    }
    let attrs = attributes(&run.spans[2]);
    assert!(!attrs.contains_key("gen_ai.input.messages"), "{attrs:?}");
    assert!(!attrs.contains_key("gen_ai.output.messages"), "{attrs:?}");

    let bad = AzureMlChatOnlineEndpoint::builder()
        .env_vars([("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "yes")])
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "invalid `capture_message_content` (env var OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT): \
         expected true or false, got a string (\"yes\")"
    );
    Ok(())
}

#[test]
fn batch_items_nest_under_the_callers_span_on_every_thread() -> TestResult {
    let replies = (0..4).map(|_| response(200, &[], CHAT_REPLY)).collect();
    let server = FaultServer::start(replies);
    let chat = chat_client(&server)?;
    let conversations = vec![vec![ChatMessage::user("Hello")]; 4];
    let run = with_otel(|| {
        let parent = tracing::info_span!("nightly job");
        let _in = parent.enter();
        chat.generate(&conversations, &CallOptions::new().max_concurrency(4))
    });
    assert!(run.out.iter().all(Result::is_ok));
    let parent = run.spans.iter().find(|s| s.name == "nightly job").unwrap();
    let children: Vec<_> = run
        .spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_context.span_id())
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(children, ["chat gpt-test"; 4]);
    Ok(())
}

/// The log lines a `log` logger got: `LEVEL target: message`.
static LOG_LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct CaptureLog;

impl tracing::log::Log for CaptureLog {
    fn enabled(&self, _: &tracing::log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &tracing::log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        LOG_LINES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }
    fn flush(&self) {}
}

/// Installs [`CaptureLog`] up to `level`, once per process.
fn capture_log(level: tracing::log::LevelFilter) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::log::set_logger(&CaptureLog).unwrap();
        tracing::log::set_max_level(level);
    });
}

/// Run by [`log_users_get_the_events_without_a_subscriber`] in a process of its own (no
/// `tracing` subscriber is ever set there); a no-op in the normal run.
#[test]
fn log_bridge_child() -> TestResult {
    let Ok(port) = std::env::var("TELEMETRY_LOG_CHILD_PORT") else {
        return Ok(());
    };
    capture_log(tracing::log::LevelFilter::Trace);
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(format!("http://127.0.0.1:{port}/score"))
        .api_key(KEY)
        .formatter(Gpt2ContentFormatter)
        .max_retries(1)
        .build()?;
    let result = llm.invoke("hi");
    for line in LOG_LINES.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        if line.contains(" azureml_endpoint") {
            println!("LOG {line}");
        }
    }
    println!("RESULT {:?}", result.map(|c| c.text));
    Ok(())
}

#[test]
fn log_users_get_the_events_without_a_subscriber() -> TestResult {
    let server = FaultServer::start(vec![
        response(503, &[("retry-after", "0")], "{}"),
        response(200, &[("x-request-id", "req-5")], r#"[{"0": "hello"}]"#),
    ]);
    let out = std::process::Command::new(std::env::current_exe()?)
        .args([
            "telemetry::log_bridge_child",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("TELEMETRY_LOG_CHILD_PORT", server.port.to_string())
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.split_once("LOG ").map(|(_, line)| line))
        .map(|l| {
            // Times vary: the rest is exact.
            l.split(' ')
                .map(|w| match w.split_once('=') {
                    Some((
                        k @ ("azureml.elapsed"
                        | "azureml.wait"
                        | "server.port"
                        | "histogram.gen_ai.client.operation.duration"),
                        _,
                    )) => format!("{k}=_"),
                    _ => w.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert!(stdout.contains("RESULT Ok(\"hello\")"), "{stdout}");
    assert_eq!(
        lines,
        [
            r#"INFO azureml_endpoint: text_completion; otel.kind="client" gen_ai.operation.name="text_completion" gen_ai.provider.name="azure.ml.online_endpoint" server.address="127.0.0.1" server.port=_ azureml.auth="key""#,
            r#"TRACE azureml_endpoint: request headers azureml.headers="content-type: application/json; accept: application/json; authorization: ***""#,
            r#"DEBUG azureml_endpoint: attempt azureml.attempt=1 http.request.method="POST" server.address="127.0.0.1" url.path="/score" http.response.status_code=503 azureml.elapsed=_"#,
            r#"TRACE azureml_endpoint: response headers azureml.headers="connection: close; retry-after: 0; content-length: 2""#,
            r#"INFO azureml_endpoint: retry wait azureml.attempt=1 azureml.wait=_ azureml.wait.reason="retry-after" http.response.status_code=503"#,
            r#"TRACE azureml_endpoint: request headers azureml.headers="content-type: application/json; accept: application/json; authorization: ***""#,
            r#"DEBUG azureml_endpoint: attempt azureml.attempt=2 http.request.method="POST" server.address="127.0.0.1" url.path="/score" http.response.status_code=200 azureml.elapsed=_ azureml.request_id="req-5""#,
            r#"TRACE azureml_endpoint: response headers azureml.headers="connection: close; x-request-id: req-5; content-length: 16""#,
            r#"INFO azureml_endpoint::metrics: histogram.gen_ai.client.operation.duration=_ gen_ai.operation.name="text_completion" gen_ai.provider.name="azure.ml.online_endpoint" server.address="127.0.0.1" server.port=_"#,
        ],
        "{stdout}"
    );
    Ok(())
}

/// Every span's fields (at creation and recorded later), every event's fields: all of it, as
/// text, for the leak test.
#[derive(Clone, Default)]
struct Everything(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        write!(self.0, " {}={value:?}", field.name()).unwrap();
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        write!(self.0, " {}={value}", field.name()).unwrap();
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Everything {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut text = self.0.lock().unwrap();
        write!(text, "\nspan {}:", attrs.metadata().name()).unwrap();
        attrs.record(&mut Fields(&mut text));
    }
    fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut text = self.0.lock().unwrap();
        text.push_str("\nrecord:");
        values.record(&mut Fields(&mut text));
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = self.0.lock().unwrap();
        write!(
            text,
            "\n{} {}:",
            event.metadata().level(),
            event.metadata().target()
        )
        .unwrap();
        event.record(&mut Fields(&mut text));
    }
}

/// Neither the key nor any piece of it 8 characters or longer.
fn assert_clean(what: &str, text: &str) {
    for len in 8..=KEY.len() {
        let piece = &KEY[..len];
        assert!(!text.contains(piece), "{what} leaks {piece:?}: {text}");
    }
}

/// `text` with every other character a `\u` escape.
fn escaped(text: &str) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| match i % 2 {
            1 => format!("\\u{:04x}", u32::from(c)),
            _ => c.to_string(),
        })
        .collect()
}

#[test]
fn no_span_event_or_log_line_ever_holds_the_key() -> TestResult {
    // ureq logs the raw wire at trace level, unredacted by its own docs (the README says to keep
    // `ureq` and `ureq_proto` at debug): its lines are read at debug, where it redacts.
    capture_log(tracing::log::LevelFilter::Debug);
    let everything = Everything::default();
    let echoed_json = format!(
        r#"{{"id": "{KEY}", "model": "m-{}", "object": "chat.completion",
            "choices": [{{"index": 0, "message": {{"role": "assistant", "content": "you sent {KEY}"}},
            "finish_reason": "{KEY}"}}], "usage": {{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}}}"#,
        escaped(KEY)
    );
    let echoed_event = format!(
        "data: {{\"id\": \"{KEY}\", \"model\": \"{KEY}\", \"choices\": [{{\"index\": 0, \"delta\": {{\"content\": \"{KEY}\"}}, \"finish_reason\": null}}]}}\n\n"
    );
    let scripts = vec![
        // An error body, its headers and a retry, echoing the key.
        response(
            429,
            &[
                ("retry-after", "0"),
                ("x-request-id", KEY),
                ("x-echo", &format!("Bearer {KEY}")),
            ],
            format!(r#"{{"error": {{"message": "bad key {}"}}}}"#, escaped(KEY)),
        ),
        response(
            401,
            &[("x-ms-request-id", KEY), ("www-authenticate", KEY)],
            format!("Authorization: Bearer {KEY}"),
        ),
        // A success whose names, finish reason, content and headers echo it.
        response(
            200,
            &[("apim-request-id", KEY), ("set-cookie", KEY)],
            echoed_json.as_str(),
        ),
        // A stream echoing it in names and text, then an error event.
        sse(
            vec![
                Step::Write(echoed_event.clone()),
                Step::Write(format!(
                    "data: {{\"error\": {{\"message\": \"leaked {KEY}\", \"code\": \"{KEY}\"}}}}\n\n"
                )),
            ],
            End::Chunked,
        ),
        // A bad event echoing it.
        sse(
            vec![Step::Write(format!("data: {{\"choices\": \"{KEY}\"}}\n\n"))],
            End::Chunked,
        ),
        // A redirect to a host named after it.
        vec![Act::send(head(
            307,
            &[
                ("location", format!("http://{KEY}.example/x").as_str()),
                ("content-length", "0"),
            ],
        ))],
    ];
    let server = FaultServer::start(scripts);
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .model(KEY)
        .extra_header("x-team", "blue")
        .capture_message_content(true)
        .max_retries(1)
        .build()?;
    let subscriber = Registry::default().with(everything.clone());
    let errors = scoped(subscriber, || -> Result<Vec<String>, Error> {
        let mut errors = Vec::new();
        let asked = [ChatMessage::user(format!("my key is {KEY}"))];
        let options = CallOptions::new().header("x-user-token", KEY).stop([KEY]);
        errors.push(chat.invoke_with(&asked, &options).unwrap_err().to_string());
        chat.invoke_with(&asked, &options)?;
        let items: Vec<_> = chat.stream_with(&asked, &options)?.collect();
        errors.extend(items.into_iter().filter_map(Result::err).map(|e| e.to_string()));
        let items: Vec<_> = chat.stream(&asked)?.collect();
        errors.extend(items.into_iter().filter_map(Result::err).map(|e| e.to_string()));
        errors.push(chat.invoke(&asked).unwrap_err().to_string());
        Ok(errors)
    })?;
    assert_eq!(errors.len(), 4, "{errors:?}");

    // A client signing in with a token the server echoes.
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.SECRET-token-payload";
    let token_server = FaultServer::start(vec![response(
        500,
        &[("x-echo", token)],
        format!(r#"{{"error": "got {token}"}}"#),
    )]);
    let entra = AzureMlOnlineEndpoint::builder()
        .endpoint_url(token_server.url(COMPLETIONS_PATH))
        .api_type(ApiType::Serverless)
        .credential(from_fn(move |_: &str| {
            Ok(AccessToken::new(
                token,
                SystemTime::now() + Duration::from_secs(3600),
            ))
        }))
        .token_scope("api://test/.default")
        .max_retries(0)
        .build()?;
    let subscriber = Registry::default().with(everything.clone());
    let entra_error = scoped(subscriber, || entra.invoke("hi").unwrap_err());
    assert_eq!(entra_error.status(), Some(500));

    let captured = everything.0.lock().unwrap().clone();
    let logged = LOG_LINES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .join("\n");
    // What was captured is what a leak would be in: requests, replies, headers, waits, errors.
    for expected in [
        "authorization: Bearer ***",
        "x-user-token: ***",
        "x-team: blue",
        "x-echo: Bearer ***",
        "azureml.wait.reason=retry-after",
        "error.type=stream_error_event",
        "error.type=stream_bad_event",
        "error.type=redirect",
        "azureml.token.source=custom",
        "gen_ai.input.messages=",
        "gen_ai.output.messages=",
        "gen_ai.response.id=***",
        "gen_ai.response.finish_reasons=[\"***\"]",
    ] {
        assert!(captured.contains(expected), "no {expected:?} in {captured}");
    }
    assert!(logged.contains("ureq"), "ureq logged nothing: {logged}");
    assert_clean("a span or event", &captured);
    assert_clean("a log line", &logged);
    for error in &errors {
        assert_clean("an error", error);
    }
    for (what, text) in [("a span or event", &captured), ("a log line", &logged)] {
        assert!(!text.contains("SECRET-token"), "{what} leaks the token: {text}");
    }
    Ok(())
}

/// The CLI with the test key in its environment and nothing else; the key must not come out.
fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_azureml-endpoint"))
        .args(args)
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert_clean("the CLI's output", &format!("{stdout}{stderr}"));
    (out.status.code(), stdout, stderr)
}

/// Times (`12 ms`, `1.50 s`, `0.4 lines/s`) as `_`.
fn no_times(text: &str) -> String {
    text.lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            let unit = |i: usize| {
                words.get(i + 1).is_some_and(|w| {
                    w.starts_with("ms") || *w == "s" || w.starts_with("s)") || w.starts_with("lines/s")
                })
            };
            let kept: Vec<&str> = words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let number = !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.');
                    if number && unit(i) {
                        "_"
                    } else {
                        w
                    }
                })
                .collect();
            kept.join(" ") + "\n"
        })
        .collect()
}

#[test]
fn cli_v_tells_each_attempt_and_wait_on_stderr_and_vv_the_headers() -> TestResult {
    let scripts = || {
        vec![
            response(503, &[("retry-after", "0")], "{}"),
            response(200, &[("x-request-id", "req-5")], r#"[{"0": "hello"}]"#),
        ]
    };
    let server = FaultServer::start([scripts(), scripts(), scripts()].concat());
    let url = server.url("/score");
    let call = |flags: &[&str]| {
        cli(&[
            &["complete", "--url", &url, "--formatter", "gpt2"],
            flags,
            &["hi"],
        ]
        .concat())
    };

    assert_eq!(call(&[]), (Some(0), "hello\n".to_owned(), String::new()));
    let (code, stdout, stderr) = call(&["-v"]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "hello\n"),
        "stdout is unchanged"
    );
    assert_eq!(
        no_times(&stderr),
        "* POST 127.0.0.1/score: HTTP 503 in _ ms (attempt 1)\n\
         * waiting _ ms (retry-after after HTTP 503) before attempt 2\n\
         * POST 127.0.0.1/score: HTTP 200 in _ ms (attempt 2), request id req-5\n"
    );
    let (code, stdout, stderr) = call(&["-vv"]);
    assert_eq!((code, stdout.as_str()), (Some(0), "hello\n"));
    let request = "> content-type: application/json\n> accept: application/json\n> authorization: ***\n";
    assert_eq!(
        no_times(&stderr),
        format!(
            "{request}* POST 127.0.0.1/score: HTTP 503 in _ ms (attempt 1)\n\
             < connection: close\n< retry-after: 0\n< content-length: 2\n\
             * waiting _ ms (retry-after after HTTP 503) before attempt 2\n\
             {request}* POST 127.0.0.1/score: HTTP 200 in _ ms (attempt 2), request id req-5\n\
             < connection: close\n< x-request-id: req-5\n< content-length: 16\n"
        )
    );
    Ok(())
}

#[test]
fn cli_batch_progress_counts_tokens_and_waits_for_429() -> TestResult {
    let answer = |tokens: u64| {
        json!({"choices": [{"text": "a", "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": tokens - 1, "total_tokens": tokens}})
        .to_string()
    };
    let server = FaultServer::start(vec![
        response(429, &[("retry-after", "0")], "{}"),
        response(200, &[], answer(5)),
        response(200, &[], answer(7)),
    ]);
    let dir = std::env::temp_dir().join(format!("telemetry-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (input, output) = (dir.join("in.jsonl"), dir.join("out.jsonl"));
    std::fs::write(&input, "{\"prompt\": \"one\"}\n{\"prompt\": \"two\"}\n")?;
    let url = server.url(COMPLETIONS_PATH);
    let (code, stdout, stderr) = cli(&[
        "batch",
        "--url",
        &url,
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(&dir)?;
    assert_eq!((code, stdout.as_str()), (Some(0), ""));
    assert_eq!(
        no_times(&stderr),
        "batch: 2/2 lines done, 0 failed; 12 tokens, 1 wait for 429; _ lines/s in _ s\n"
    );
    Ok(())
}

#[test]
fn a_key_switch_is_an_event_naming_the_keys_never_their_values() -> TestResult {
    let server = FaultServer::start(vec![
        response(401, &[], r#"{"message": "key_auth_access_denied"}"#),
        response(200, &[], r#"[{"0": "hi"}]"#),
    ]);
    let secondary = "second-key-9f8e7d6c5b4a";
    let llm = crate::support::gpt2(server.url("/score"))
        .secondary_api_key(secondary)
        .build()?;
    let everything = Everything::default();
    let subscriber = Registry::default().with(everything.clone());
    let answer = scoped(subscriber, || llm.invoke("hello"))?;
    assert_eq!(answer.text, "hi");
    let captured = everything.0.lock().unwrap().clone();
    assert!(
        captured.contains(
            "WARN azureml_endpoint: message=key switch azureml.key.from=primary key \
             azureml.key.to=secondary key http.response.status_code=401"
        ),
        "{captured}"
    );
    assert_clean("a span or event", &captured);
    assert!(!captured.contains(secondary), "{captured}");
    Ok(())
}
