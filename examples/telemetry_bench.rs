//! What instrumentation costs per `invoke` against a loopback keep-alive server (the embedded
//! local endpoint): with no subscriber, with the instrumentation compiled out, with a subscriber
//! that records every span and event, and with the OpenTelemetry pipeline.
//!
//! Each measurement runs in a process of its own (a subscriber, once set, changes how every
//! later span is dispatched), alternating so drift on a shared machine hits all alike; the best
//! round of each is kept.
//!
//! ```text
//! cargo build --release --example telemetry_bench
//! CARGO_TARGET_DIR=target/bench-off cargo build --release --no-default-features --features local --example telemetry_bench
//! target/release/examples/telemetry_bench target/bench-off/release/examples/telemetry_bench
//! ```
//!
//! The argument is the same example built without the `tracing` feature; without it, that row
//! is left out. Goals: no subscriber within noise of compiled out; a recording subscriber at most
//! 5 % per call.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use azureml_endpoint::local::LocalEndpoint;
use azureml_endpoint::{ApiType, AzureMlOnlineEndpoint};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

const CALLS: usize = 5000;
const WARM_UP: usize = 500;
const ROUNDS: usize = 15;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--run") => per_call_ns(&args.next().ok_or("--run needs a mode")?),
        off => compare(off),
    }
}

/// The modes measured in this build: what each is called, and its name for `--run`.
const MODES: &[(&str, &str)] = &[
    ("none", "no subscriber"),
    (
        "registry",
        "span store (tracing-subscriber's Registry: every span kept)",
    ),
    (
        "info",
        "recording subscriber (every span's fields, events at info)",
    ),
    (
        "record",
        "recording subscriber (every span, field and event, trace)",
    ),
    ("otel", "OpenTelemetry pipeline (spans and metrics, in memory)"),
];

/// The parent: runs each mode's rounds as child processes and prints the best per-call times.
fn compare(off: Option<&str>) -> Result<()> {
    let me = std::env::current_exe()?;
    let me = me.to_str().ok_or("the example's path is not UTF-8")?.to_owned();
    let mut runs: Vec<(&str, String, &str)> = Vec::new();
    for (mode, name) in MODES {
        runs.push((name, me.clone(), mode));
        if let (Some(off), "none") = (off, *mode) {
            runs.push((
                "compiled out (built without the `tracing` feature)",
                off.to_owned(),
                "none",
            ));
        }
    }
    // Per run: the best (all threads, client thread) CPU ns per call over the rounds.
    let mut best = vec![(f64::MAX, f64::MAX); runs.len()];
    for _ in 0..ROUNDS {
        for ((_, exe, mode), best) in runs.iter().zip(&mut best) {
            let out = Command::new(exe).args(["--run", mode]).output()?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
            }
            let text = String::from_utf8(out.stdout)?;
            let mut numbers = text.split_whitespace().map(str::parse::<f64>);
            let (Some(all), Some(client)) = (numbers.next(), numbers.next()) else {
                return Err(format!("unexpected output {text:?}").into());
            };
            *best = (best.0.min(all?), best.1.min(client?));
        }
    }
    let (base, base_client) = best.first().copied().unwrap_or((f64::NAN, f64::NAN));
    println!("invoke on loopback keep-alive: CPU µs per call, best of {ROUNDS} rounds of {CALLS} calls");
    println!(
        "  {:<62} {:>9} {:>8} {:>9} {:>8}",
        "", "process", "Δ", "client", "Δ"
    );
    for ((name, _, _), (all, client)) in runs.iter().zip(&best) {
        println!(
            "  {name:<62} {:>9.1} {:>+7.1}% {:>9.1} {:>+7.1}%",
            all / 1000.0,
            (all / base - 1.0) * 100.0,
            client / 1000.0,
            (client / base_client - 1.0) * 100.0,
        );
    }
    println!(
        "process: the client's and the local server's threads (about what a call takes on an idle \
         machine); client: the calling thread alone"
    );
    Ok(())
}

/// One measurement in this process, in one of the [`MODES`]: prints the CPU ns per call of all
/// threads, then of the calling thread.
fn per_call_ns(mode: &str) -> Result<()> {
    let _otel = match mode {
        "none" => None,
        "registry" => {
            tracing::subscriber::set_global_default(Registry::default())?;
            None
        }
        "info" | "record" => {
            let level = if mode == "info" { Level::INFO } else { Level::TRACE };
            tracing::subscriber::set_global_default(Registry::default().with(Recorder(level)))?;
            None
        }
        "otel" => Some(install_otel()?),
        other => return Err(format!("unknown mode {other:?}").into()),
    };
    let server = LocalEndpoint::start()?;
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.completions_url())
        .api_type(ApiType::Serverless)
        .api_key("bench-key")
        .model("local-model")
        .model_kwarg("max_tokens", 20)
        .build()?;
    let prompt = "Write one sentence about the sea.";
    for _ in 0..WARM_UP {
        llm.invoke(prompt)?;
    }
    let (all, client) = (cpu_ns("/proc/self/task"), thread_cpu_ns());
    let start = Instant::now();
    for _ in 0..CALLS {
        let completion = llm.invoke(prompt)?;
        assert_eq!(completion.text, prompt);
    }
    // CPU time where Linux tells it: on a busy machine, wall time mostly measures waiting for a
    // core.
    let wall = start.elapsed().as_nanos() as f64;
    let spent = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(before), Some(after)) => after.saturating_sub(before) as f64,
        _ => wall,
    };
    let all = spent(all, cpu_ns("/proc/self/task"));
    let client = spent(client, thread_cpu_ns());
    println!("{:.0} {:.0}", all / CALLS as f64, client / CALLS as f64);
    Ok(())
}

/// The CPU time the calling thread has run, in ns.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// The CPU time the threads under `tasks` (`/proc/self/task`) have run, in ns.
fn cpu_ns(tasks: &str) -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(tasks).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// tracing-opentelemetry's span and metrics layers, exporting to memory.
fn install_otel() -> Result<(
    opentelemetry_sdk::trace::SdkTracerProvider,
    opentelemetry_sdk::metrics::SdkMeterProvider,
)> {
    use opentelemetry::trace::TracerProvider as _;
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .build();
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(
        opentelemetry_sdk::metrics::InMemoryMetricExporter::default(),
    )
    .build();
    let meter_provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(reader)
        .build();
    let subscriber = Registry::default()
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("bench")))
        .with(tracing_opentelemetry::MetricsLayer::new(meter_provider.clone()));
    tracing::subscriber::set_global_default(subscriber)?;
    Ok((tracer_provider, meter_provider))
}

/// Records every span's fields (at creation and later) and every event's, as text kept on the
/// span until it closes, as a formatting subscriber would.
struct Recorder(Level);

struct Text(String);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        meta.level() <= &self.0
    }
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut text = String::with_capacity(512);
        attrs.record(&mut Fields(&mut text));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Text(text));
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(Text(text)) = span.extensions_mut().get_mut::<Text>() {
                values.record(&mut Fields(text));
            }
        }
    }
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = String::with_capacity(256);
        event.record(&mut Fields(&mut line));
        if let Some(span) = ctx.event_span(event) {
            if let Some(Text(text)) = span.extensions_mut().get_mut::<Text>() {
                text.push_str(&line);
            }
        }
    }
}
