//! Telemetry: the quickstart's calls against the embedded simulator, with
//! faults injected, exported through OpenTelemetry's in-memory exporters
//! and printed as two tables: the spans (as `tracing-opentelemetry` exports
//! the SDK's `tracing` spans) and the metric points (feature
//! `opentelemetry`).
//!
//! ```sh
//! cargo run --example telemetry
//! ```
//!
//! In a service, the same setup with a real exporter (OTLP, ...) instead of
//! the in-memory ones: a `tracing_opentelemetry` layer on the subscriber
//! for the spans, and `ClientBuilder::meter` (or the global meter
//! provider) for the metrics. See docs/telemetry.md.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use rust_decimal_macros::dec;
use tracing_subscriber::layer::SubscriberExt as _;
use uqpay_issuing::webhooks::{sign, Verifier};
use uqpay_issuing::{CardMode, CardStatus, Client, SpendingInterval};
use uqpay_mock::{Fault, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Spans: the SDK's tracing spans, exported by tracing-opentelemetry.
    let spans = InMemorySpanExporter::default();
    let tracer = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer.tracer("uqpay-example")));
    tracing::subscriber::set_global_default(subscriber)?;
    // Metrics: an SDK meter provider; its meter goes to the client.
    let metrics = InMemoryMetricExporter::default();
    let meter = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();

    let server = MockServer::builder()
        .credentials("example-client", "example-key")
        .start()
        .await?;
    let client = Client::builder()
        .credentials("example-client", "example-key")
        .base_url(server.base_url())
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .retry_jitter(Duration::from_millis(10))
        .meter(meter.meter("uqpay-issuing"))
        .build()?;

    // The quickstart's calls, through a 503, a dropped answer after the
    // commit (replayed), "request is processing" and an expired token.
    server.fail_next(1, Fault::ServerError(503));
    let card = client
        .assign_card()
        .cardholder_id(uuid::Uuid::new_v4())
        .card_number("4096360800133951")
        .card_currency("USD")
        .card_mode(CardMode::Share)
        .send()
        .await?;
    server.fail_next(1, Fault::DropAfterCommit);
    client
        .update_card(card.card_id)
        .card_limit(dec!(2100.02))
        .name_on_card("MARSHALL HU")
        .spending_control(dec!(100.03), SpendingInterval::PerTransaction)
        .send()
        .await?;
    server.fail_next(1, Fault::RequestProcessing);
    client
        .update_card_status(card.card_id)
        .card_status(CardStatus::Frozen)
        .send()
        .await?;
    server.expire_issued_tokens();
    client
        .update_card_status(card.card_id)
        .card_status(CardStatus::Active)
        .send()
        .await?;
    client.retrieve_card(card.card_id).send().await?;
    let refused = client
        .update_card_status(card.card_id)
        .card_status(CardStatus::Cancelled)
        .send()
        .await;
    println!(
        "calls done (the last: {})",
        if refused.is_ok() { "ok" } else { "refused" }
    );

    // Webhooks: one good delivery, one with a bad signature.
    let verifier = Verifier::new("whsec-example").meter(&meter.meter("uqpay-issuing"));
    let body = br#"{"event_name":"ISSUING","event_type":"card.activation.status","event_id":"e1","source_id":"s1","version":"V1.6.0","data":{}}"#;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)?
        .as_secs()
        .to_string();
    let _ = verifier.verify(body, &sign("whsec-example", body, &now), &now);
    let _ = verifier.verify(body, &sign("a-wrong-secret", body, &now), &now);

    tracer.force_flush()?;
    meter.force_flush()?;

    println!("\nspans (name | kind | attributes), in the order they ended:");
    for span in spans.get_finished_spans()? {
        let attributes: Vec<String> = span
            .attributes
            .iter()
            .filter(|kv| {
                // tracing-opentelemetry's own additions: where and how long.
                let key = kv.key.as_str();
                !(key.starts_with("code.")
                    || key.starts_with("thread.")
                    || matches!(key, "target" | "busy_ns" | "idle_ns"))
            })
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect();
        println!(
            "  {:<38} | {:<8?} | {}",
            span.name,
            span.span_kind,
            attributes.join(" ")
        );
    }

    println!("\nmetrics (name | attributes | count or sum):");
    let mut rows = BTreeMap::new();
    for resource in metrics.get_finished_metrics()? {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                let mut points: Vec<(String, String)> = Vec::new();
                match metric.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            points.push((
                                attributes(p.attributes()),
                                format!("{} in {:.1} ms", p.count(), p.sum() * 1000.0),
                            ));
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for p in sum.data_points() {
                            points.push((attributes(p.attributes()), p.value().to_string()));
                        }
                    }
                    _ => {}
                }
                for (attrs, value) in points {
                    rows.insert((metric.name().to_owned(), attrs), value);
                }
            }
        }
    }
    for ((name, attrs), value) in rows {
        println!("  {name:<40} | {attrs:<90} | {value}");
    }
    Ok(())
}

fn attributes<'a>(attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> String {
    let mut text: Vec<String> = attributes
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    text.sort();
    text.join(" ")
}
