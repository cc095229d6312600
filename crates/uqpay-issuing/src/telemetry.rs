//! Telemetry in OpenTelemetry's vocabulary: the names and attributes of the
//! attempt spans (always, through `tracing`), and the metrics (feature
//! `opentelemetry`, through the `opentelemetry` API crate; without the
//! feature [`Metrics`] is an empty type whose methods do nothing).
//!
//! Every attribute is of low cardinality: an operation, a method, a route
//! template, a status, a class of error. Never a card id, an account id, an
//! idempotency key or any secret.

use std::time::Duration;

use crate::error::Error;

/// An operation as OpenTelemetry's HTTP client conventions name it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    /// `http.request.method`.
    pub(crate) method: &'static str,
    /// `url.template`.
    pub(crate) template: &'static str,
    /// The span name: `"{method} {url.template}"`.
    pub(crate) name: &'static str,
}

/// The route of an operation of the spec.
pub(crate) fn route(operation: &str) -> Route {
    // The span name is derived from the method and the template, so the
    // two cannot disagree.
    macro_rules! route {
        ($method:literal, $template:literal) => {
            Route {
                method: $method,
                template: $template,
                name: concat!($method, " ", $template),
            }
        };
    }
    match operation {
        "assign_card" => route!("POST", "/v1/issuing/cards/assign"),
        "update_card_status" => route!("POST", "/v1/issuing/cards/{id}/status"),
        "update_card" => route!("POST", "/v1/issuing/cards/{id}"),
        "retrieve_card" => route!("GET", "/v1/issuing/cards/{id}"),
        _ => route!("POST", "/v1/connect/token"),
    }
}

/// `server.address` and `server.port` of a base URL.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    pub(crate) address: String,
    pub(crate) port: u16,
}

impl Server {
    pub(crate) fn of(base_url: &str) -> Self {
        let url = reqwest::Url::parse(base_url).ok();
        Self {
            address: url
                .as_ref()
                .and_then(|u| u.host_str())
                .unwrap_or_default()
                .to_owned(),
            port: url.and_then(|u| u.port_or_known_default()).unwrap_or(443),
        }
    }
}

/// `error.type` of a failed attempt or call: the HTTP status as text when
/// an answer came (as the conventions say), else the class of the failure.
pub(crate) fn error_type(error: &Error) -> std::borrow::Cow<'static, str> {
    if let Some(status) = error.status() {
        return status.to_string().into();
    }
    match error.last() {
        Error::Timeout { .. } => "timeout",
        Error::RateLimitTimeout { .. } => "rate_limit_timeout",
        Error::Network { .. } => "network",
        Error::TokenStore { .. } => "token_store",
        Error::Config(_) => "config",
        Error::Validation { .. } => "validation",
        _ => "_OTHER",
    }
    .into()
}

/// Why a call is retried, for the retries counter.
#[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
pub(crate) fn retry_reason(error: &Error) -> &'static str {
    if error.is_rate_limited() {
        return "rate_limited";
    }
    if error.is_processing() {
        return "processing";
    }
    match error.last() {
        Error::Timeout { .. } => "timeout",
        Error::Network { .. } => "network",
        Error::TokenStore { .. } => "token_store",
        _ => match error.status() {
            Some(408) => "request_timeout",
            Some(500..=599) => "server_error",
            _ => "other",
        },
    }
}

/// The outcome of a call, for the call duration: `ok`, or the class of its
/// error (UQPay's `type` for an API error, when it is one this version
/// knows; `_OTHER` for any other, as OpenTelemetry's `error.type` advises:
/// what a server sends must not grow the metric's series without bound).
pub(crate) fn outcome(result: Result<(), &Error>) -> std::borrow::Cow<'static, str> {
    let Err(error) = result else {
        return "ok".into();
    };
    match error {
        Error::RetryBudgetSpent { .. } => return "retry_budget_spent".into(),
        Error::RetriesExhausted { .. } => return "retries_exhausted".into(),
        _ => {}
    }
    match error.last() {
        Error::Api { kind, .. } => kind.known().unwrap_or("_OTHER").into(),
        Error::Unauthorized { .. } => "unauthorized".into(),
        Error::Decode { .. } => "decode".into(),
        other => error_type(other),
    }
}

#[cfg(feature = "opentelemetry")]
pub(crate) use self::otel::{global_meter, Metrics};

#[cfg(not(feature = "opentelemetry"))]
pub(crate) use self::off::Metrics;

#[cfg(not(feature = "opentelemetry"))]
mod off {
    use super::*;

    /// Without the `opentelemetry` feature: nothing is recorded.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Metrics;

    #[allow(clippy::unused_self)]
    impl Metrics {
        #[inline(always)]
        pub(crate) fn attempt(
            &self,
            _: &Route,
            _: &Server,
            _: Option<u16>,
            _: Option<&Error>,
            _: Duration,
        ) {
        }
        #[inline(always)]
        pub(crate) fn call(&self, _: &str, _: Result<(), &Error>, _: Duration) {}
        #[inline(always)]
        pub(crate) fn retry(&self, _: &str, _: &Error) {}
        #[inline(always)]
        pub(crate) fn mint(&self, _: bool) {}
        #[inline(always)]
        pub(crate) fn token_refused(&self) {}
        #[inline(always)]
        pub(crate) fn budget_refused(&self, _: &str) {}
        #[inline(always)]
        pub(crate) fn rate_limit_wait(&self, _: Duration) {}
        /// Whether anything is recorded (time is measured only then).
        #[inline(always)]
        pub(crate) fn on(&self) -> bool {
            false
        }
    }
}

#[cfg(feature = "opentelemetry")]
mod otel {
    use super::*;
    use opentelemetry::metrics::{Counter, Histogram, Meter};
    use opentelemetry::KeyValue;

    /// OpenTelemetry's advised buckets for `http.client.request.duration`
    /// (seconds).
    const BUCKETS: [f64; 14] = [
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ];

    /// The SDK's instruments, made from one `Meter` (the user's, or the
    /// global provider's `uqpay-issuing` meter). Cheap to clone.
    ///
    /// | name | kind | unit | attributes |
    /// | --- | --- | --- | --- |
    /// | `http.client.request.duration` | histogram | s | `http.request.method`, `server.address`, `server.port`, `url.template`, `http.response.status_code` (an answer came), `error.type` (failed) |
    /// | `uqpay.client.call.duration` | histogram | s | `uqpay.operation`, `uqpay.outcome` (retries and waits included) |
    /// | `uqpay.client.retries` | counter | {retry} | `uqpay.operation`, `uqpay.retry.reason` |
    /// | `uqpay.client.token.mints` | counter | {mint} | `uqpay.result` (`ok`, `error`) |
    /// | `uqpay.client.token.refusals` | counter | {refusal} | (a 401 that asked for a new token) |
    /// | `uqpay.client.retry_budget.refusals` | counter | {refusal} | `uqpay.operation` |
    /// | `uqpay.client.rate_limit.waits` | counter | {wait} | |
    /// | `uqpay.client.rate_limit.wait.duration` | histogram | s | |
    #[derive(Clone, Debug)]
    pub(crate) struct Metrics {
        request_duration: Histogram<f64>,
        call_duration: Histogram<f64>,
        retries: Counter<u64>,
        mints: Counter<u64>,
        token_refusals: Counter<u64>,
        budget_refusals: Counter<u64>,
        rate_limit_waits: Counter<u64>,
        rate_limit_wait: Histogram<f64>,
    }

    impl Default for Metrics {
        /// From the global meter provider (`opentelemetry::global`), as
        /// OpenTelemetry's Rust libraries do by default.
        fn default() -> Self {
            Self::new(&global_meter())
        }
    }

    /// The global provider's meter of this crate.
    pub(crate) fn global_meter() -> Meter {
        opentelemetry::global::meter_with_scope(
            opentelemetry::InstrumentationScope::builder("uqpay-issuing")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
    }

    impl Metrics {
        /// The instruments, made from `meter`.
        pub(crate) fn new(meter: &Meter) -> Self {
            let seconds = |name: &'static str, description: &'static str| {
                meter
                    .f64_histogram(name)
                    .with_unit("s")
                    .with_description(description)
                    .with_boundaries(BUCKETS.to_vec())
                    .build()
            };
            let counter = |name: &'static str, unit: &'static str, description: &'static str| {
                meter
                    .u64_counter(name)
                    .with_unit(unit)
                    .with_description(description)
                    .build()
            };
            Self {
                request_duration: seconds(
                    "http.client.request.duration",
                    "Duration of HTTP client requests (each attempt).",
                ),
                call_duration: seconds(
                    "uqpay.client.call.duration",
                    "Duration of UQPay calls, retries and waits included.",
                ),
                retries: counter("uqpay.client.retries", "{retry}", "Retries, by reason."),
                mints: counter(
                    "uqpay.client.token.mints",
                    "{mint}",
                    "Access tokens minted, by result.",
                ),
                token_refusals: counter(
                    "uqpay.client.token.refusals",
                    "{refusal}",
                    "Tokens the API refused (401) that asked for a new one.",
                ),
                budget_refusals: counter(
                    "uqpay.client.retry_budget.refusals",
                    "{refusal}",
                    "Retries refused because the retry budget was spent.",
                ),
                rate_limit_waits: counter(
                    "uqpay.client.rate_limit.waits",
                    "{wait}",
                    "Calls that waited for a slot of the rate limit.",
                ),
                rate_limit_wait: seconds(
                    "uqpay.client.rate_limit.wait.duration",
                    "Time calls waited for a slot of the rate limit.",
                ),
            }
        }

        pub(crate) fn on(&self) -> bool {
            true
        }

        pub(crate) fn attempt(
            &self,
            route: &Route,
            server: &Server,
            status: Option<u16>,
            error: Option<&Error>,
            took: Duration,
        ) {
            let mut attributes = Vec::with_capacity(6);
            attributes.push(KeyValue::new("http.request.method", route.method));
            attributes.push(KeyValue::new("server.address", server.address.clone()));
            attributes.push(KeyValue::new("server.port", i64::from(server.port)));
            attributes.push(KeyValue::new("url.template", route.template));
            if let Some(status) = status {
                attributes.push(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                ));
            }
            if let Some(error) = error {
                attributes.push(KeyValue::new("error.type", error_type(error)));
            }
            self.request_duration
                .record(took.as_secs_f64(), &attributes);
        }

        pub(crate) fn call(
            &self,
            operation: &'static str,
            result: Result<(), &Error>,
            took: Duration,
        ) {
            self.call_duration.record(
                took.as_secs_f64(),
                &[
                    KeyValue::new("uqpay.operation", operation),
                    KeyValue::new("uqpay.outcome", outcome(result)),
                ],
            );
        }

        pub(crate) fn retry(&self, operation: &'static str, error: &Error) {
            self.retries.add(
                1,
                &[
                    KeyValue::new("uqpay.operation", operation),
                    KeyValue::new("uqpay.retry.reason", retry_reason(error)),
                ],
            );
        }

        pub(crate) fn mint(&self, ok: bool) {
            let result = if ok { "ok" } else { "error" };
            self.mints.add(1, &[KeyValue::new("uqpay.result", result)]);
        }

        pub(crate) fn token_refused(&self) {
            self.token_refusals.add(1, &[]);
        }

        pub(crate) fn budget_refused(&self, operation: &'static str) {
            self.budget_refusals
                .add(1, &[KeyValue::new("uqpay.operation", operation)]);
        }

        pub(crate) fn rate_limit_wait(&self, waited: Duration) {
            self.rate_limit_waits.add(1, &[]);
            self.rate_limit_wait.record(waited.as_secs_f64(), &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_classes() {
        assert_eq!(route("update_card").name, "POST /v1/issuing/cards/{id}");
        assert_eq!(route("retrieve_card").method, "GET");
        assert_eq!(route("create_access_token").template, "/v1/connect/token");
        let server = Server::of("https://api.uqpay.com/api");
        assert_eq!(
            (server.address.as_str(), server.port),
            ("api.uqpay.com", 443)
        );
        assert_eq!(Server::of("http://127.0.0.1:8080/api").port, 8080);
        let timeout = Error::Timeout {
            idempotency_key: None,
        };
        assert_eq!(error_type(&timeout), "timeout");
        assert_eq!(retry_reason(&timeout), "timeout");
        assert_eq!(outcome(Ok(())), "ok");
        assert_eq!(outcome(Err(&timeout)), "timeout");
    }

    fn api(kind: &str) -> Error {
        Error::Api {
            status: 400,
            kind: crate::error::ErrorKind::from_type_or_status(Some(kind), 400),
            typed: true,
            code: None,
            message: String::new(),
            missing_fields: Box::default(),
            retry_after: None,
            attempts: 1,
            idempotency_key: None,
        }
    }

    /// What the server sends must not grow the outcome's series: the known
    /// classes by name, every other one as `_OTHER`.
    #[test]
    fn outcomes_are_of_bounded_cardinality() {
        assert_eq!(outcome(Err(&api("card_error"))), "card_error");
        assert_eq!(outcome(Err(&api("idempotency_error"))), "idempotency_error");
        let outcomes: std::collections::BTreeSet<_> = (0..200)
            .map(|i| outcome(Err(&api(&format!("brand_new_error_{i}")))).into_owned())
            .collect();
        assert_eq!(outcomes.into_iter().collect::<Vec<_>>(), ["_OTHER"]);
        // The kind itself keeps what was sent.
        assert_eq!(
            api("brand_new_error_7")
                .kind()
                .map(|k| k.as_str().to_owned()),
            Some("brand_new_error_7".to_owned())
        );
    }
}
