//! `webhook listen`: a local receiver. Every POST, on any path, is verified
//! with the SDK's [`Verifier`]; a valid delivery is answered 2xx, printed
//! once per `event_id` (UQPay redelivers until it gets a 2xx: redeliveries
//! are acknowledged and dropped) and forwarded, raw body and signature
//! headers unchanged, to `--forward-to`; an invalid one is answered 400,
//! neither printed nor forwarded.
//!
//! When the forward fails (no answer, or not 2xx) the delivery is answered
//! 502 and its `event_id` forgotten, so that UQPay's redelivery is
//! forwarded again (and not printed again).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use uqpay_issuing::webhooks::{Verifier, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use crate::exit::{self, Failure};
use crate::output::{self, Output};
use crate::webhook::verify::verifier;

struct Listener {
    verifier: Verifier,
    /// Event ids acknowledged, or being handled.
    seen: Mutex<HashSet<String>>,
    /// Event ids printed.
    printed: Mutex<HashSet<String>>,
    forward: Option<(reqwest::Client, String)>,
    patterns: Vec<String>,
    out: Output,
}

/// Runs the receiver until Ctrl-C (exit 130).
pub async fn listen(
    addr: SocketAddr,
    forward_to: Option<String>,
    patterns: Vec<String>,
    out: Output,
) -> Result<u8, Failure> {
    let verifier = verifier()?;
    let forward = match forward_to {
        Some(url) => {
            reqwest::Url::parse(&url)
                .map_err(|e| Failure::usage(format!("--forward-to {url:?}: {e}")))?;
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| Failure::internal(format!("cannot build the HTTP client: {e}")))?;
            Some((http, url))
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::internal(e.to_string()))?;
    output::message(&format!(
        "listening on http://{bound}/ (any path){}",
        forward
            .as_ref()
            .map(|(_, url)| format!(", forwarding to {url}"))
            .unwrap_or_default()
    ));
    let state = Arc::new(Listener {
        verifier,
        seen: Mutex::default(),
        printed: Mutex::default(),
        forward,
        patterns: patterns.into_iter().filter(|p| !p.is_empty()).collect(),
        out,
    });
    let app = axum::Router::new().fallback(receive).with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| Failure::internal(format!("the receiver failed: {e}")))?;
    Ok(exit::INTERRUPTED)
}

async fn receive(
    State(state): State<Arc<Listener>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
    }
    let event = match state.verifier.verify_headers(&headers, &body) {
        Ok(event) => event,
        Err(error) => {
            output::warn(&format!("refused a delivery: {error}"));
            return (StatusCode::BAD_REQUEST, "invalid delivery\n");
        }
    };
    let id = event.event_id.clone();
    if !state.patterns.is_empty()
        && !state
            .patterns
            .iter()
            .any(|p| matches(p, event.event_type.as_str()))
    {
        return (StatusCode::OK, "ignored\n");
    }
    if !state.seen.lock().expect("lock").insert(id.clone()) {
        output::message(&format!("redelivery of {id} dropped"));
        return (StatusCode::OK, "duplicate\n");
    }
    let data: Value = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("data").cloned())
        .unwrap_or(Value::Null);
    let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut record = json!({
        "event_id": id,
        "event_type": event.event_type.as_str(),
        "event_name": event.event_name,
    });
    for key in ["card_id", "card_status"] {
        if let Some(value) = text(key) {
            record[key] = Value::String(value);
        }
    }
    let mut answer = (StatusCode::OK, "ok\n");
    let mut forwarded = String::new();
    if let Some((http, url)) = &state.forward {
        let mut request = http.post(url).body(body.clone());
        for name in [SIGNATURE_HEADER, TIMESTAMP_HEADER, "content-type"] {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value.clone());
            }
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                record["forward_status"] = json!(status.as_u16());
                forwarded = format!("  <-- {}", status.as_u16());
                if !status.is_success() {
                    answer = (StatusCode::BAD_GATEWAY, "forward failed\n");
                }
            }
            Err(error) => {
                record["forward_error"] = json!(error.to_string());
                forwarded = format!("  <-- forward failed: {error}");
                answer = (StatusCode::BAD_GATEWAY, "forward failed\n");
            }
        }
        if answer.0 != StatusCode::OK {
            // Let the redelivery through to be forwarded again.
            state.seen.lock().expect("lock").remove(&id);
        }
    }
    if state.printed.lock().expect("lock").insert(id.clone()) {
        let line = format!(
            "--> {} [{}] {} {}{}",
            event.event_type,
            id,
            text("card_id").unwrap_or_default(),
            text("card_status").unwrap_or_default(),
            forwarded
        );
        state.out.stream(&line, &record);
    } else if !forwarded.is_empty() {
        output::message(&format!("redelivery of {id} forwarded again{forwarded}"));
    }
    answer
}

/// `*` matches any run of characters; anything else itself.
fn matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(after) = text.strip_prefix(head) else {
                return false;
            };
            (0..=after.len())
                .filter(|i| after.is_char_boundary(*i))
                .any(|i| matches(rest, &after[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns() {
        assert!(matches("card.update.*", "card.update.succeeded"));
        assert!(matches("*", "anything"));
        assert!(matches("card.*.succeeded", "card.status.update.succeeded"));
        assert!(!matches("card.update.*", "card.create.succeeded"));
        assert!(matches("card.create.succeeded", "card.create.succeeded"));
    }
}
