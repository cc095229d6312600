//! UQPay's published webhook examples (kept verbatim in the raw crate:
//! `uqpay_issuing::raw::examples`), signed as UQPay signs them, verify and
//! parse into typed events.

use std::time::{SystemTime, UNIX_EPOCH};

use uqpay_issuing::webhooks::{sign, EventData, Verifier};

#[test]
fn every_published_example_verifies_and_parses_into_its_type() {
    let verifier = Verifier::new("whsec_test_secret");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let mut kinds = Vec::new();
    for (path, body) in uqpay_issuing::raw::examples::WEBHOOKS {
        let body = body.as_bytes();
        let signature = sign("whsec_test_secret", body, &now);
        let event = verifier
            .verify(body, &signature, &now)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(event.event_type.is_known(), "{path}");
        assert_eq!(event.event_name, "ISSUING");
        assert!(event.version.starts_with('V'));
        let kind = match &event.data {
            EventData::CardCreated(d) => {
                assert_eq!(d.card_status.as_ref().unwrap().to_string(), "ACTIVE");
                assert_eq!(d.card_available_balance.unwrap().to_string(), "1000");
                "created"
            }
            EventData::CardUpdated(d) => {
                assert_eq!(d.card_order_id.as_deref(), Some(event.source_id.as_str()));
                // "success" as sent, and the known status for comparisons.
                let status = d.order_status.as_ref().unwrap();
                assert!(status.to_string().eq_ignore_ascii_case("success"));
                assert!(*status == uqpay_issuing::OrderState::Success);
                "updated"
            }
            EventData::CardStatusUpdated(d) => {
                assert_eq!(d.card_status.as_ref().unwrap().to_string(), "CANCELLED");
                "status"
            }
            EventData::ActivationCode(d) => {
                assert_eq!(d.card_id.as_deref(), Some(event.source_id.as_str()));
                "code"
            }
            EventData::ActivationStatus(d) => {
                assert_eq!(d.activation_status.as_deref(), Some("Activated"));
                "activation"
            }
            EventData::Unknown(_) => panic!("{path}: not typed"),
        };
        kinds.push(kind);
        // A body changed by one byte no longer verifies.
        let mut tampered = body.to_vec();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        assert!(verifier.verify(&tampered, &signature, &now).is_err());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "activation",
            "code",
            "created",
            "status",
            "updated",
            "updated"
        ]
    );
}

/// The amount grammar of the spec holds for webhooks too: an amount in a
/// form UQPay does not send (and the spec's pattern refuses) is a
/// malformed event, never a number read some lax way.
#[test]
fn an_event_with_an_amount_outside_the_spec_grammar_is_malformed() {
    let (_, published) = uqpay_issuing::raw::examples::WEBHOOKS
        .into_iter()
        .find(|(name, _)| *name == "card.create.succeeded.json")
        .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(published).unwrap();
    assert!(uqpay_issuing::webhooks::Event::parse(published.as_bytes()).is_ok());
    for bad in ["1_000", " 12 ", "+5", ".5", "1e3", "1,000"] {
        event["data"]["card_available_balance"] = serde_json::json!(bad);
        let body = serde_json::to_vec(&event).unwrap();
        let error = uqpay_issuing::webhooks::Event::parse(&body).unwrap_err();
        assert!(
            error.to_string().contains("card_available_balance")
                || error.to_string().contains("amount"),
            "{bad:?}: {error}"
        );
    }
}
