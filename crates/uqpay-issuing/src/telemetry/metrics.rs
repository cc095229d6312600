//! The metrics (feature `opentelemetry`, through the `opentelemetry` API
//! crate); without the feature [`Metrics`] is an empty type whose methods
//! do nothing, so that the calls cost nothing.

#[cfg(feature = "opentelemetry")]
pub(crate) use self::otel::{global_meter, Metrics};

#[cfg(not(feature = "opentelemetry"))]
pub(crate) use self::off::Metrics;

#[cfg(not(feature = "opentelemetry"))]
mod off {
    use std::time::Duration;

    use crate::error::Error;
    use crate::telemetry::{Route, Server};

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
    use std::time::Duration;

    use crate::error::Error;
    use crate::telemetry::{error_type, outcome, retry_reason, Route, Server};
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
