//! Bad bytes in both directions. Malformed, truncated, huge and wrong-type
//! JSON sent raw to the simulator gets a 4xx with UQPay's error body, never a
//! 5xx or a crash, and changes nothing. An answer the client cannot parse
//! becomes `Error::Decode` with the body redacted (or, from the token
//! endpoint, no body at all), never a panic; an unknown card status is
//! kept as sent; an HTML error page keeps its status and is retried.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use uqpay_e2e::{client_of, Canned, FixedServer, ScriptedServer, SyncWorld, AUTH_HEADER};
use uqpay_issuing::{Error, ReportedCardStatus};
use uuid::Uuid;

use crate::support::{answer, answer_with, card_ok, minting_client, update};

const MALFORMED: usize = 0;
const RANDOM_BYTES: usize = 1;
const RANDOM_JSON: usize = 2;

/// One simulator (with one card) per test, so that parallel tests do not
/// see each other's state changes.
fn world(test: usize) -> &'static SyncWorld {
    static WORLDS: [OnceLock<SyncWorld>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    WORLDS[test].get_or_init(SyncWorld::new)
}

fn paths(test: usize) -> [String; 3] {
    let card = world(test).card;
    [
        "/v1/issuing/cards/assign".to_owned(),
        format!("/v1/issuing/cards/{card}/status"),
        format!("/v1/issuing/cards/{card}"),
    ]
}

/// Sends `body` raw; asserts a 4xx with UQPay's error body and no state change.
fn assert_refused(test: usize, path: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let world = world(test);
    let before = world.server.cards();
    let (status, text) = world.post_raw(path, body);
    prop_assert!(
        (400..500).contains(&status),
        "{path}: HTTP {status}: {text}"
    );
    let error: Value = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("{path}: not JSON ({e}): {text}")))?;
    prop_assert!(
        error["type"].is_string() && error["message"].is_string(),
        "{}",
        text
    );
    prop_assert_eq!(world.server.cards(), before);
    Ok(())
}

#[test]
fn malformed_truncated_and_wrong_type_bodies() {
    let valid = [
        json!({"cardholder_id": Uuid::new_v4(), "card_number": "4096360800133952",
               "card_currency": "USD", "card_mode": "SINGLE"}),
        json!({"card_status": "FROZEN", "update_reason": "r"}),
        json!({"card_limit": 2100.02, "name_on_card": "MARSHALL HU",
               "spending_controls": [{"amount": 100.03, "interval": "PER_TRANSACTION"}],
               "risk_controls": {"enable_3ds": "Y", "blocked_mcc": ["5999"]},
               "metadata": {"k": "v"}}),
    ];
    for (path, valid) in paths(MALFORMED).iter().zip(&valid) {
        let text = valid.to_string();
        // Every proper prefix of a valid body is malformed JSON.
        for cut in 0..text.len() {
            assert_refused(MALFORMED, path, text.as_bytes()[..cut].to_vec()).unwrap();
        }
        // Wrong types everywhere (null only where the field is required:
        // null means "not set" for optional fields).
        for key in valid.as_object().unwrap().keys() {
            let required = [
                "cardholder_id",
                "card_number",
                "card_currency",
                "card_mode",
                "card_status",
            ];
            let mut wrongs = vec![json!(true), json!(-1), json!([1]), json!({"a": 1})];
            if required.contains(&key.as_str()) {
                wrongs.push(json!(null));
            }
            match key.as_str() {
                "update_reason" | "name_on_card" => {}
                // Objects: unknown members are ignored, like everywhere.
                "metadata" | "risk_controls" => wrongs.retain(|w| !w.is_object()),
                _ => wrongs.push(json!("x")),
            }
            for wrong in wrongs {
                let mut body = valid.clone();
                body[key] = wrong.clone();
                assert_refused(MALFORMED, path, body.to_string().into_bytes())
                    .unwrap_or_else(|e| panic!("{key} = {wrong}: {e}"));
            }
        }
        for body in [
            "",
            "null",
            "[]",
            "42",
            "\"text\"",
            "{",
            "}{",
            "{\"a\":1}}",
            "\u{feff}{}",
        ] {
            assert_refused(MALFORMED, path, body.as_bytes().to_vec()).unwrap();
        }
        // Not UTF-8.
        assert_refused(MALFORMED, path, vec![0xff, 0xfe, b'{', 0x80]).unwrap();
        // 1 MiB: too large to read.
        let huge = json!({"metadata": {"k": "v".repeat(1 << 20)}}).to_string();
        assert_refused(MALFORMED, path, huge.into_bytes()).unwrap();
        // 1 MiB of nesting.
        assert_refused(MALFORMED, path, "[".repeat(1 << 20).into_bytes()).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..512), route in 0usize..3) {
        assert_refused(RANDOM_BYTES, &paths(RANDOM_BYTES)[route], bytes)?;
    }

    #[test]
    fn random_json_is_refused_or_accepted_but_never_a_5xx(value in json_value(), route in 0usize..3) {
        let world = world(RANDOM_JSON);
        let path = &paths(RANDOM_JSON)[route];
        let status = world.runtime.block_on(async {
            world.http
                .post(format!("{}{path}", world.server.base_url()))
                .header("x-auth-token", AUTH_HEADER)
                .header("x-idempotency-key", Uuid::new_v4().to_string())
                .body(value.to_string())
                .send().await.unwrap().status().as_u16()
        });
        prop_assert!(status < 500, "HTTP {status} for {value}");
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[A-Z_]{0,12}".prop_map(Value::String),
    ];
    let keys = prop_oneof![
        Just("card_limit".to_owned()),
        Just("name_on_card".to_owned()),
        Just("card_status".to_owned()),
        Just("card_mode".to_owned()),
        Just("risk_controls".to_owned()),
        Just("spending_controls".to_owned()),
        Just("metadata".to_owned()),
        "[a-z_]{1,10}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------
// The client side

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_responses_are_decode_errors_with_redacted_bodies() {
    let server = FixedServer::start(Canned::json(200, "{}")).await;
    let client = client_of(&server.base_url(), 0);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        "[ -~]{0,64}"
            .prop_map(|s| format!("{{\"card_id\":\"{s} 4096360800133951\"}}").into_bytes()),
    ];
    runner
        .run(&bodies, |body| {
            server.set(Canned {
                status: axum::http::StatusCode::OK,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.clone().into(),
            });
            let result = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(client.update_card(Uuid::new_v4()).name_on_card("X").send())
            });
            match result {
                Ok(_) => {}
                Err(Error::Decode {
                    status,
                    body: kept,
                    message,
                    ..
                }) => {
                    prop_assert_eq!(status, 200);
                    prop_assert!(!kept.contains("4096360800133951"), "{}", kept);
                    prop_assert!(!message.contains("4096360800133951"), "{}", message);
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn an_unknown_card_status_is_preserved() {
    let body = r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_order_id":"o",
        "card_status":"SUSPENDED_BY_SCHEME","order_status":"QUEUED","brand_new_field":1}"#;
    let (_server, response) = answer_with(Canned::json(200, body), 2).await;
    let response = response.unwrap();
    match &response.card_status {
        ReportedCardStatus::Unknown(raw) => assert_eq!(raw.as_str(), "SUSPENDED_BY_SCHEME"),
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert_eq!(response.card_status.to_string(), "SUSPENDED_BY_SCHEME");
    assert_eq!(response.order_status.to_string(), "QUEUED");
}

#[tokio::test]
async fn an_undecodable_success_is_a_decode_error_with_the_redacted_body() {
    let body = r#"{"card_id":"not-a-uuid","note":"card 4096360800133951"}"#;
    let (server, result) = answer_with(Canned::json(200, body), 2).await;
    let error = result.unwrap_err();
    match &error {
        Error::Decode { status, body, .. } => {
            assert_eq!(*status, 200);
            assert!(body.contains("409636******3951"), "{body}");
            assert!(!body.contains("4096360800133951"), "{body}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert_eq!(server.seen().len(), 1, "a decode error is not retried");
}

#[tokio::test]
async fn html_error_pages_keep_their_status_and_are_retried() {
    let html = Canned {
        status: axum::http::StatusCode::BAD_GATEWAY,
        headers: vec![("content-type".into(), "text/html".into())],
        body: "<html><body>502 Bad Gateway</body></html>".into(),
    };
    let (server, result) = answer_with(html, 1).await;
    let error = result.unwrap_err();
    assert_eq!(error.status(), Some(502), "{error:?}");
    assert_eq!(error.attempts(), 2);
    assert!(error.to_string().contains("502 Bad Gateway"), "{error}");
    assert_eq!(server.seen().len(), 2);
    // Every attempt carried the same idempotency key.
    let keys: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.headers["x-idempotency-key"].clone())
        .collect();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(
        keys[0].to_str().unwrap(),
        error.idempotency_key().unwrap().to_string()
    );
}

#[tokio::test]
async fn an_undecodable_token_answer_keeps_no_body() {
    let server = ScriptedServer::start(|seen| {
        if seen.is_token_request() {
            answer(
                200,
                r#"{"auth_token":"tok-in-a-bad-answer","expired_at":"soon"}"#,
            )
        } else {
            card_ok()
        }
    })
    .await;
    let client = minting_client(&server).max_retries(0).build().unwrap();
    let error = update(&client).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(matches!(error.last(), Error::Decode { .. }), "{text}");
    assert!(!text.contains("tok-in-a-bad-answer"), "{text}");
}
