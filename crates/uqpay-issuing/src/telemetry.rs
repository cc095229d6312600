//! Telemetry in OpenTelemetry's vocabulary: the names and attributes of the
//! attempt spans (always, through `tracing`), and the metrics (feature
//! `opentelemetry`, through the `opentelemetry` API crate; without the
//! feature [`Metrics`] is an empty type whose methods do nothing).
//!
//! Every attribute is of low cardinality: an operation, a method, a route
//! template, a status, a class of error. Never a card id, an account id, an
//! idempotency key or any secret.

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

pub(crate) mod metrics;

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
