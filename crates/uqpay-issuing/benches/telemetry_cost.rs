//! `telemetry_cost`: what the `opentelemetry` feature costs a call when a
//! real SDK meter provider is installed, and what exporting the spans
//! through `tracing-opentelemetry` adds. One client making full
//! `update_card` calls back to back against a minimal loopback server (in
//! a process of its own would be the same: this measures the client), the
//! configurations in alternating rounds; medians per call.
//!
//! - a no-op meter (the feature compiled in, nothing installed: the global
//!   provider's default), no `tracing` subscriber;
//! - an SDK meter provider (`opentelemetry_sdk`, a periodic reader that
//!   exports every 60 s), no subscriber;
//! - the same, with a `tracing-opentelemetry` layer exporting every span to
//!   an SDK tracer provider (batch of 0: no exporter, spans created, filled
//!   and dropped).
//!
//! ```sh
//! cargo bench -p uqpay-issuing --bench telemetry_cost
//! ```
//! The feature off is measured by `cargo bench -p uqpay-e2e --bench
//! overhead_rounds` (that crate does not enable it).

use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use rust_decimal_macros::dec;
use tracing_subscriber::layer::SubscriberExt as _;
use uqpay_issuing::{Client, SpendingInterval};

const ROUNDS: usize = 15;
const CALLS: usize = 400;

const ANSWER: &str = r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_order_id":"c0cef051-29c5-4796-b86a-cd5ee34bfad7","card_status":"ACTIVE","order_status":"SUCCESS"}"#;

/// A loopback server answering 200 to everything, on a thread of its own.
fn server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().fallback(|body: axum::body::Bytes| async move {
                let _ = body;
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    ANSWER,
                )
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}/api", rx.recv().unwrap())
}

async fn call(client: &Client) {
    client
        .update_card(uuid::Uuid::nil())
        .card_limit(dec!(2100.02))
        .name_on_card("MARSHALL HU")
        .no_pin_payment_amount(dec!(100))
        .spending_control(dec!(100.03), SpendingInterval::PerTransaction)
        .enable_3ds(true)
        .allow_3ds_transactions(true)
        .blocked_mcc(["5999", "6011"])
        .metadata("key1", "value1")
        .send()
        .await
        .unwrap();
}

async fn round(client: &Client) -> f64 {
    let started = Instant::now();
    for _ in 0..CALLS {
        call(client).await;
    }
    started.elapsed().as_secs_f64() * 1e6 / CALLS as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `cargo bench --no-run` probes
    }
    let url = server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = || Client::builder().token("bench-token").base_url(&url);
    let noop = builder().build().unwrap();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(
            opentelemetry_sdk::metrics::PeriodicReader::builder(
                opentelemetry_sdk::metrics::InMemoryMetricExporter::default(),
            )
            .with_interval(Duration::from_secs(60))
            .build(),
        )
        .build();
    let sdk = builder()
        .meter(provider.meter("uqpay-issuing"))
        .build()
        .unwrap();
    let tracer = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer.tracer("bench")));
    let dispatch = tracing::Dispatch::new(subscriber);

    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    runtime.block_on(async {
        for client in [&noop, &sdk] {
            round(client).await; // warm up
        }
        for _ in 0..ROUNDS {
            a.push(round(&noop).await);
            b.push(round(&sdk).await);
            let _guard = tracing::dispatcher::set_default(&dispatch);
            c.push(round(&sdk).await);
        }
    });
    let (a, b, c) = (median(a), median(b), median(c));
    // What the SDK records per successful first-attempt call, alone: one
    // point of http.client.request.duration (6 attributes) and one of the
    // call duration (2), into the SDK provider.
    let meter = provider.meter("isolated");
    let histogram = |name: &'static str| meter.f64_histogram(name).with_unit("s").build();
    let (request, call) = (histogram("http.client.request.duration"), histogram("call"));
    let n = 200_000;
    let started = Instant::now();
    for i in 0..n {
        use opentelemetry::KeyValue;
        request.record(
            f64::from(i % 100) * 1e-4,
            &[
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("server.address", String::from("127.0.0.1")),
                KeyValue::new("server.port", 8080_i64),
                KeyValue::new("url.template", "/v1/issuing/cards/{id}"),
                KeyValue::new("http.response.status_code", 200_i64),
            ],
        );
        call.record(
            f64::from(i % 100) * 1e-4,
            &[
                KeyValue::new("uqpay.operation", "update_card"),
                KeyValue::new("uqpay.outcome", "ok"),
            ],
        );
    }
    let isolated = started.elapsed().as_secs_f64() * 1e9 / f64::from(n);
    println!("| configuration | per call (median of {ROUNDS} rounds of {CALLS}) |");
    println!("| --- | --- |");
    println!("| no-op meter, no subscriber | {a:.1} µs |");
    println!("| SDK meter provider | {b:.1} µs ({:+.1} µs) |", b - a);
    println!(
        "| SDK meter provider + spans exported by tracing-opentelemetry | {c:.1} µs ({:+.1} µs) |",
        c - a
    );
    println!(
        "\nthe two metric points of a call, recorded alone into the SDK provider: {isolated:.0} ns"
    );
}
