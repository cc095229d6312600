//! Telemetry (issue 18) through OpenTelemetry's in-memory exporters: the
//! spans `tracing-opentelemetry` exports from the SDK's `tracing` spans,
//! and the metric points of the `opentelemetry` feature; none of them holds
//! a token, an API key or a card number.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt as _;
use uqpay_issuing::webhooks::{sign, Verifier};
use uqpay_issuing::Client;

const API_KEY: &str = "api-key-SECRET-9f2c";
const PAN: &str = "4096360800133951";

/// A loopback server: the token endpoint mints `tok-SECRET-<n>`; card
/// calls answer 503, then 401, then 200.
async fn server() -> (String, Arc<AtomicUsize>) {
    let cards = Arc::new(AtomicUsize::new(0));
    let mints = Arc::new(AtomicUsize::new(0));
    let seen = cards.clone();
    let app = axum::Router::new().fallback(move |request: Request<Body>| {
        let (cards, mints) = (seen.clone(), mints.clone());
        async move {
            let json = |status: StatusCode, body: String| {
                axum::response::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap()
            };
            if request.uri().path().ends_with("/v1/connect/token") {
                let n = mints.fetch_add(1, Ordering::SeqCst);
                let expires = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 1800;
                return json(
                    StatusCode::OK,
                    format!(r#"{{"auth_token":"tok-SECRET-{n}","expired_at":{expires}}}"#),
                );
            }
            match cards.fetch_add(1, Ordering::SeqCst) {
                0 => json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"type":"api_error","code":"api_error","message":"busy"}"#.into(),
                ),
                1 => json(
                    StatusCode::UNAUTHORIZED,
                    r#"{"type":"unauthorized_error","code":"unauthorized_error","message":"token expired"}"#.into(),
                ),
                _ => json(
                    StatusCode::OK,
                    format!(
                        r#"{{"card_id":"{}","card_order_id":"{}","create_time":"2024-03-21T17:17:32+08:00","card_status":"PENDING","order_status":"PENDING"}}"#,
                        uuid::Uuid::new_v4(),
                        uuid::Uuid::new_v4()
                    ),
                ),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, cards)
}

struct Exporters {
    spans: InMemorySpanExporter,
    tracer: SdkTracerProvider,
    metrics: InMemoryMetricExporter,
    meter: SdkMeterProvider,
}

impl Exporters {
    fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let tracer = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        Self {
            spans,
            tracer,
            metrics,
            meter,
        }
    }

    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        let layer =
            tracing_opentelemetry::layer().with_tracer(self.tracer.tracer("telemetry-test"));
        tracing_subscriber::registry().with(layer)
    }

    fn finished(&self) -> (Vec<SpanData>, Vec<ResourceMetrics>) {
        self.tracer.force_flush().unwrap();
        self.meter.force_flush().unwrap();
        (
            self.spans.get_finished_spans().unwrap(),
            self.metrics.get_finished_metrics().unwrap(),
        )
    }
}

/// The value of attribute `key`, as text.
fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Every data point of the metric `name`: its attributes and its count (a
/// histogram's count, a counter's sum).
fn points(metrics: &[ResourceMetrics], name: &str) -> Vec<(Vec<KeyValue>, u64)> {
    let mut found = Vec::new();
    for resource in metrics {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics().filter(|m| m.name() == name) {
                match metric.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        for point in histogram.data_points() {
                            found.push((point.attributes().cloned().collect(), point.count()));
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for point in sum.data_points() {
                            found.push((point.attributes().cloned().collect(), point.value()));
                        }
                    }
                    other => panic!("{name}: unexpected data {other:?}"),
                }
            }
        }
    }
    found
}

fn has(attributes: &[KeyValue], key: &str, value: &str) -> bool {
    attribute(attributes, key).as_deref() == Some(value)
}

/// A client of `url` minting its tokens, with quick retries, recording to
/// the exporters' meter.
fn builder(url: &str, exporters: &Exporters) -> uqpay_issuing::ClientBuilder {
    Client::builder()
        .credentials("client-T", API_KEY)
        .base_url(url)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(2))
        .retry_jitter(Duration::ZERO)
        .meter(exporters.meter.meter("uqpay-issuing"))
}

#[tokio::test(flavor = "current_thread")]
async fn a_call_through_a_503_and_a_401_in_spans_and_metrics() {
    let exporters = Exporters::new();
    let _subscriber = tracing::subscriber::set_default(exporters.subscriber());
    let (url, _) = server().await;
    let client = builder(&url, &exporters).build().unwrap();
    let card = client
        .assign_card()
        .cardholder_id(uuid::Uuid::new_v4())
        .card_number(PAN)
        .card_currency("USD")
        .card_mode(uqpay_issuing::CardMode::Share)
        .send()
        .await
        .unwrap();
    let (spans, metrics) = exporters.finished();

    // The call span, and under it three attempt spans named and kinded as
    // the HTTP client conventions say.
    let call = spans
        .iter()
        .find(|s| s.name == "uqpay.call")
        .expect("the call span");
    assert!(has(&call.attributes, "operation", "assign_card"));
    assert!(has(&call.attributes, "attempts", "3"));
    assert!(has(&call.attributes, "outcome", "ok"));
    let mut attempts: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "POST /v1/issuing/cards/assign")
        .collect();
    attempts.sort_by_key(|s| s.start_time);
    assert_eq!(
        attempts.len(),
        3,
        "{:#?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for (i, (attempt, status)) in attempts.iter().zip(["503", "401", "200"]).enumerate() {
        assert_eq!(attempt.span_kind, SpanKind::Client);
        assert_eq!(attempt.parent_span_id, call.span_context.span_id());
        let a = &attempt.attributes;
        assert!(has(a, "http.request.method", "POST"));
        assert!(has(a, "url.template", "/v1/issuing/cards/assign"));
        assert!(has(a, "server.address", "127.0.0.1"));
        assert!(attribute(a, "server.port").is_some());
        assert!(has(a, "http.response.status_code", status), "{a:?}");
        // Only when above 0.
        match i {
            0 => assert_eq!(attribute(a, "http.request.resend_count"), None),
            n => assert_eq!(
                attribute(a, "http.request.resend_count"),
                Some(n.to_string())
            ),
        }
        let error = attribute(a, "error.type");
        assert_eq!(
            error.as_deref(),
            (status != "200").then_some(status),
            "{a:?}"
        );
    }
    // The token mints (the first, and the one after the 401) and the waits
    // for them, as spans of their own.
    let mints = spans
        .iter()
        .filter(|s| s.name == "uqpay.token.mint")
        .count();
    assert_eq!(mints, 2);
    assert!(spans.iter().any(|s| s.name == "uqpay.token.wait"));

    // The metrics, with the conventions' attributes.
    let requests = points(&metrics, "http.client.request.duration");
    for status in ["503", "401", "200"] {
        let point = requests
            .iter()
            .find(|(a, _)| has(a, "http.response.status_code", status))
            .unwrap_or_else(|| panic!("no point for {status}: {requests:?}"));
        assert_eq!(point.1, 1);
        assert!(has(&point.0, "url.template", "/v1/issuing/cards/assign"));
        assert!(has(&point.0, "http.request.method", "POST"));
    }
    let calls = points(&metrics, "uqpay.client.call.duration");
    assert_eq!(calls.len(), 1);
    assert!(
        has(&calls[0].0, "uqpay.operation", "assign_card")
            && has(&calls[0].0, "uqpay.outcome", "ok")
    );
    let retries = points(&metrics, "uqpay.client.retries");
    assert_eq!(retries.len(), 1);
    assert!(has(&retries[0].0, "uqpay.retry.reason", "server_error") && retries[0].1 == 1);
    let minted = points(&metrics, "uqpay.client.token.mints");
    assert_eq!(minted, vec![(vec![KeyValue::new("uqpay.result", "ok")], 2)]);
    assert_eq!(points(&metrics, "uqpay.client.token.refusals")[0].1, 1);

    // Nothing secret or high-cardinality anywhere: no token, API key or card
    // number in any span field, and no id in any metric attribute.
    let everything = format!("{spans:?} {metrics:?}");
    for secret in ["tok-SECRET", API_KEY, PAN, "SECRET"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    let metric_text = format!("{metrics:?}");
    assert!(!metric_text.contains(&card.card_id.to_string()));
    assert!(!metric_text.contains(&card.card_order_id.to_string()));
    let key = attribute(&call.attributes, "idempotency_key").unwrap();
    assert!(
        !metric_text.contains(&key),
        "an idempotency key in a metric"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn waits_and_refusals_of_the_budget_and_the_rate_limit_are_counted() {
    let exporters = Exporters::new();
    let _subscriber = tracing::subscriber::set_default(exporters.subscriber());
    let (url, cards) = server().await;
    let client = builder(&url, &exporters)
        .retry_budget(uqpay_issuing::RetryBudget::new(0))
        .rate_limit(uqpay_issuing::RateLimit::new(1, Duration::from_millis(300)))
        .build()
        .unwrap();
    let update = || {
        client
            .update_card(uuid::Uuid::new_v4())
            .name_on_card("X")
            .send()
    };
    // The 503: no budget for its retry.
    let error = update().await.unwrap_err();
    assert!(error.is_retry_budget_spent(), "{error}");
    // The 401 (refreshed, not a retry) then the 200: the second slot waits.
    update().await.unwrap();
    assert_eq!(cards.load(Ordering::SeqCst), 3);
    let (spans, metrics) = exporters.finished();
    assert_eq!(
        points(&metrics, "uqpay.client.retry_budget.refusals")[0].1,
        1
    );
    assert!(points(&metrics, "uqpay.client.rate_limit.waits")[0].1 >= 1);
    assert!(spans.iter().any(|s| s.name == "uqpay.rate_limit.wait"));
    let outcomes = points(&metrics, "uqpay.client.call.duration");
    assert!(outcomes
        .iter()
        .any(|(a, _)| has(a, "uqpay.outcome", "retry_budget_spent")));
}

#[test]
fn webhook_verifications_are_counted_by_result() {
    let exporters = Exporters::new();
    let meter = exporters.meter.meter("uqpay-issuing");
    let verifier = Verifier::new("whsec-SECRET").meter(&meter);
    let body = br#"{"event_name":"ISSUING","event_type":"card.activation.status","event_id":"e1","source_id":"s1","version":"V1.6.0","data":{}}"#;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let good = sign("whsec-SECRET", body, &now);
    assert!(verifier.verify(body, &good, &now).is_ok());
    assert!(verifier
        .verify(body, &sign("other", body, &now), &now)
        .is_err());
    assert!(verifier.verify(body, &good, "1000000000").is_err());
    assert!(verifier.verify(body, "zz", &now).is_err());
    assert!(verifier
        .verify_headers(&axum::http::HeaderMap::new(), body)
        .is_err());
    let (_, metrics) = exporters.finished();
    let counted = points(&metrics, "uqpay.webhook.verifications");
    let count = |result: &str| {
        counted
            .iter()
            .find(|(a, _)| has(a, "uqpay.webhook.result", result))
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(
        (
            count("ok"),
            count("bad_signature"),
            count("stale_timestamp"),
            count("malformed")
        ),
        (1, 1, 1, 2)
    );
    assert!(!format!("{metrics:?}").contains("SECRET"));
}
