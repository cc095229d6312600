//! `webhook verify`: one delivery, its body on stdin; exit 0 when it is
//! valid, 1 when it is not. Also the secret both commands read.

use std::io::Read as _;

use serde_json::json;
use uqpay_issuing::webhooks::Verifier;

use crate::exit::{self, Failure};
use crate::output::{self, Output};

/// The verifier of `UQPAY_WEBHOOK_SECRET`.
pub fn verifier() -> Result<Verifier, Failure> {
    match std::env::var("UQPAY_WEBHOOK_SECRET") {
        Ok(secret) if !secret.is_empty() => Ok(Verifier::new(secret)),
        _ => Err(Failure::usage(
            "UQPAY_WEBHOOK_SECRET is not set (the endpoint's webhook secret)",
        )),
    }
}

/// Verifies the delivery on stdin.
pub fn verify(timestamp: &str, signature: &str, out: Output) -> Result<u8, Failure> {
    let verifier = verifier()?;
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(|e| Failure::usage(format!("cannot read the body from stdin: {e}")))?;
    match verifier.verify(&body, signature.trim(), timestamp.trim()) {
        Ok(event) => {
            out.record(&json!({
                "valid": true,
                "event_id": event.event_id,
                "event_type": event.event_type.as_str(),
                "event_name": event.event_name,
            }));
            Ok(exit::OK)
        }
        Err(error) => {
            output::error(&format!("invalid delivery: {error}"));
            Ok(exit::API)
        }
    }
}
