//! The token, the API key and card numbers never show: not in tracing
//! output (captured at TRACE), not in `Debug`, not in errors, whatever a
//! server echoes back (whole, grouped, across the cut of a long page);
//! a card number typed into another field is masked too; and a redirect
//! never carries the token to another host.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rust_decimal_macros::dec;
use tracing::Instrument as _;
use uqpay_e2e::{assign_request, client, fast_builder, pan, simulator};
use uqpay_e2e::{Canned, Capture, FixedServer, Script, ScriptedServer};
use uqpay_issuing::{CardMode, CardStatus, Client, SpendingInterval};
use uqpay_mock::{Fault, MockServer};
use uuid::Uuid;

use crate::support::{answer, minting_client, timed, token_answer, unix_now, update};

const SECRET_TOKEN: &str = "tok_live_5up3r-s3cr3t-DO-NOT-LOG";

const API_KEY: &str = "key_live_An0ther-s3cr3t-DO-NOT-LOG";

const PANS: [&str; 3] = ["4096360800133951", "5555444433332222", "409636080013"];

/// The card numbers each fault iteration assigns (all must stay hidden too).
fn fault_pans() -> Vec<String> {
    (0..Fault::all().len())
        .map(|i| format!("4{:015}", 123_456_789_000 + i as u64))
        .collect()
}

fn assert_clean(what: &str, text: &str) {
    let fault_pans = fault_pans();
    let secrets = [SECRET_TOKEN, API_KEY]
        .into_iter()
        .chain(PANS)
        .chain(fault_pans.iter().map(String::as_str));
    for secret in secrets {
        assert!(!text.contains(secret), "{what} contains {secret}:\n{text}");
    }
}

/// The one subscriber of the process, installed by the first test that
/// captures (scoped subscribers miss events when tests run in parallel); it
/// records every event of the process while a test holds a recording open.
/// Those tests take [`timed`]: while they record, everything that runs is
/// formatted at TRACE, which no test measuring time should run beside.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.subscriber()).unwrap();
        capture
    })
}

/// Runs every operation, every error path and every retry kind.
async fn exercise(fixed: &Client, fetched: &Client, server: &MockServer) -> Vec<String> {
    let mut outputs = Vec::new();
    let mut record = |label: &str, result: Result<String, uqpay_issuing::Error>| match result {
        Ok(debug) => outputs.push(format!("{label}: {debug}")),
        Err(error) => outputs.push(format!("{label}: {error} / {error:?}")),
    };

    let assign = |client: &Client, pan: &str| assign_request(client, pan, CardMode::Share);
    // Builders' Debug.
    record("builder", Ok(format!("{:?}", assign(fixed, PANS[0]))));
    record("client", Ok(format!("{fixed:?} {fetched:?}")));

    // Happy paths, with every fault retried.
    for (i, (fault, pan)) in Fault::all().into_iter().zip(fault_pans()).enumerate() {
        server.fail_next(1, fault);
        let client = if i % 2 == 0 { fixed } else { fetched };
        let result = assign(client, &pan).send().await;
        record("assign", result.map(|r| format!("{r:?}")));
    }
    let result = assign(fixed, PANS[0]).send().await;
    record("assign", result.map(|r| format!("{r:?}")));
    let card = server.card_by_number(PANS[0]).unwrap().card_id;
    record("card", Ok(format!("{:?}", server.card(card).unwrap())));
    let result = fixed
        .update_card(card)
        .card_limit(dec!(2100.02))
        .name_on_card("MARSHALL HU")
        .spending_control(dec!(1), SpendingInterval::Daily)
        .blocked_mcc(["5999"])
        .metadata("card", PANS[1])
        .send()
        .await;
    record("update", result.map(|r| format!("{r:?}")));

    // Error paths: conflict (the PAN is in the simulator's message, masked),
    // validation of a card number, exhausted retries, 404, 401.
    let result = assign(fetched, PANS[0]).send().await;
    record("conflict", result.map(|r| format!("{r:?}")));
    let result = assign(fixed, "40963608001339511234").send().await;
    record("invalid pan", result.map(|r| format!("{r:?}")));
    server.fail_next(5, Fault::DropBeforeProcessing);
    let result = fixed
        .update_card_status(card)
        .card_status(CardStatus::Frozen)
        .send()
        .await;
    record("exhausted", result.map(|r| format!("{r:?}")));
    let result = fetched
        .update_card_status(Uuid::new_v4())
        .card_status(CardStatus::Frozen)
        .send()
        .await;
    record("not found", result.map(|r| format!("{r:?}")));
    server.expire_issued_tokens();
    let result = fetched
        .update_card_status(card)
        .card_status(CardStatus::Cancelled)
        .update_reason("lost")
        .send()
        .await;
    record("refreshed", result.map(|r| format!("{r:?}")));
    let wrong = fast_builder(&server.base_url())
        .token(format!("{SECRET_TOKEN}-but-wrong"))
        .build()
        .unwrap();
    let result = assign(&wrong, PANS[2]).send().await;
    record("unauthorized", result.map(|r| format!("{r:?}")));
    outputs
}

#[tokio::test]
async fn no_secret_in_tracing_debug_or_errors() {
    let _timed = timed().await;
    let capture = capture();
    let _recording = capture.record();
    let server = MockServer::builder()
        .token(SECRET_TOKEN)
        .credentials("client-1", API_KEY)
        .start()
        .await
        .unwrap();
    let fixed = fast_builder(&server.base_url())
        .token(SECRET_TOKEN)
        .max_retries(3)
        .build()
        .unwrap();
    let fetched = fast_builder(&server.base_url())
        .credentials("client-1", API_KEY)
        .max_retries(3)
        .build()
        .unwrap();
    let outputs = exercise(&fixed, &fetched, &server)
        .instrument(tracing::info_span!("test"))
        .await;
    let captured = capture.text();

    // The run really went through the paths it claims to.
    for expected in [
        "uqpay.call",
        "retrying with the same idempotency key",
        "token refused, getting another one",
        "idempotency_key=",
        "attempts=",
        "status=400",
    ] {
        assert!(
            captured.contains(expected),
            "no {expected:?} in the capture:\n{captured}"
        );
    }
    assert!(
        outputs.iter().any(|o| o.contains("409636******3951")),
        "{outputs:#?}"
    );
    assert!(
        outputs
            .iter()
            .any(|o| o.starts_with("exhausted: gave up after 4 attempts")),
        "{outputs:#?}"
    );
    assert!(
        outputs
            .iter()
            .any(|o| o.starts_with("unauthorized: unauthorized")),
        "{outputs:#?}"
    );
    assert!(
        outputs
            .iter()
            .any(|o| o.starts_with("invalid pan: invalid card_number")),
        "{outputs:#?}"
    );

    assert_clean("the tracing output", &captured);
    for output in &outputs {
        assert_clean("an output", output);
    }
}

#[tokio::test]
async fn redirects_are_not_followed_and_the_token_stays_home() {
    let _timed = timed().await;
    let capture = capture();
    let _recording = capture.record();
    let elsewhere = FixedServer::start(Canned::json(200, "{}")).await;
    let redirecting = FixedServer::start(Canned {
        status: axum::http::StatusCode::TEMPORARY_REDIRECT,
        headers: vec![(
            "location".into(),
            format!("{}/api/v1/issuing/cards/assign", elsewhere.origin()),
        )],
        body: Default::default(),
    })
    .await;
    let client = fast_builder(&redirecting.base_url())
        .token(SECRET_TOKEN)
        .max_retries(3)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let error = client
        .assign_card()
        .cardholder_id(Uuid::new_v4())
        .card_number(PANS[0])
        .card_currency("USD")
        .card_mode(CardMode::Single)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(307), "{error:?}");
    assert!(
        error.to_string().contains("redirects are not followed"),
        "{error}"
    );
    assert_eq!(redirecting.seen().len(), 1, "a redirect is not retried");
    assert_eq!(
        redirecting.seen()[0].headers["x-auth-token"],
        format!("Bearer {SECRET_TOKEN}").as_str(),
        "the configured host got the token"
    );
    assert!(
        elsewhere.seen().is_empty(),
        "the token reached another host"
    );
    assert_clean("the error", &format!("{error} {error:?}"));
    assert_clean("the tracing output", &capture.text());
}

/// A server that echoes what it was sent (the card number of the body, the
/// token of the header) into 503s, retried: every text that reaches
/// `tracing`, errors and `Debug` has both scrubbed, whatever the form.
#[tokio::test]
async fn a_server_echoing_secrets_into_retried_errors_leaks_nothing() {
    let _timed = timed().await;
    let capture = capture();
    let _recording = capture.record();
    let echo = ScriptedServer::start(|seen| {
        if seen.is_token_request() {
            return Script::Answer(Canned::json(
                200,
                &format!(
                    r#"{{"auth_token":"minted-opaque-{SECRET_TOKEN}","expired_at":{}}}"#,
                    4_000_000_000u64
                ),
            ));
        }
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let pan = body["card_number"].as_str().unwrap_or_default();
        let spaced: Vec<&str> = (0..pan.len())
            .step_by(4)
            .map(|i| &pan[i..(i + 4).min(pan.len())])
            .collect();
        let message = format!(
            "issuer rejected card_number {pan} / {} / {} ({}: {})",
            spaced.join(" "),
            spaced.join("-"),
            "x-auth-token",
            seen.header("x-auth-token"),
        );
        Script::Answer(Canned::json(
            503,
            &serde_json::json!({"type": "api_error", "code": "api_error", "message": message})
                .to_string(),
        ))
    })
    .await;
    let fixed = fast_builder(&echo.base_url())
        .token(SECRET_TOKEN)
        .max_retries(2)
        .build()
        .unwrap();
    let minting = fast_builder(&echo.base_url())
        .credentials("client-echo", API_KEY)
        .max_retries(2)
        .build()
        .unwrap();
    let mut outputs = Vec::new();
    for (client, pan) in [(&fixed, PANS[0]), (&minting, PANS[1])] {
        let error = client
            .assign_card()
            .cardholder_id(Uuid::new_v4())
            .card_number(pan)
            .card_currency("USD")
            .card_mode(CardMode::Single)
            .send()
            .instrument(tracing::info_span!("echo"))
            .await
            .unwrap_err();
        assert_eq!(error.attempts(), 3, "{error}");
        outputs.push(format!("{error} / {error:?}"));
    }
    let captured = capture.text();
    assert!(
        captured.contains("attempt failed, retrying") && captured.contains("issuer rejected"),
        "the retries were not logged:\n{captured}"
    );
    assert!(
        outputs
            .iter()
            .all(|o| o.contains("409636") || o.contains("555544")),
        "{outputs:#?}"
    );
    for output in &outputs {
        assert_clean("an echoed error", output);
        assert!(!output.contains("4096 3608 0013 3951"), "{output}");
    }
    assert_clean("the tracing output", &captured);
    for grouped in [
        "4096 3608 0013 3951",
        "4096-3608-0013-3951",
        "5555 4444 3333 2222",
        "5555-4444-3333-2222",
    ] {
        assert!(!captured.contains(grouped), "{grouped} in the capture");
    }
}

// ---------------------------------------------------------------------------
// Errors

#[tokio::test]
async fn a_refused_opaque_token_echoed_by_the_api_is_scrubbed() {
    let minted = Arc::new(AtomicUsize::new(0));
    let counter = minted.clone();
    let server = ScriptedServer::start(move |seen| {
        if seen.is_token_request() {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Script::Answer(token_answer("opaque-tok-123456", unix_now() + 1800))
            } else {
                answer(503, r#"{"message":"down"}"#)
            }
        } else {
            let sent = seen.header("x-auth-token").to_owned();
            answer(
                401,
                &format!(r#"{{"type":"unauthorized_error","code":"unauthorized_error","message":"token {sent} is invalid"}}"#),
            )
        }
    })
    .await;
    let client = minting_client(&server).max_retries(0).build().unwrap();
    let error = update(&client).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("[REDACTED]"), "{text}");
    assert!(!text.contains("opaque-tok-123456"), "{text}");
    // And with a fixed token, the same.
    let server = FixedServer::start(Canned::json(
        401,
        r#"{"type":"unauthorized_error","code":"unauthorized_error","message":"fixed-secret-token-999 rejected"}"#,
    ))
    .await;
    let client = fast_builder(&server.base_url())
        .token("fixed-secret-token-999")
        .build()
        .unwrap();
    let error = update(&client).await.unwrap_err();
    assert!(!format!("{error} {error:?}").contains("fixed-secret-token-999"));
}

#[tokio::test]
async fn a_card_number_typed_into_the_wrong_field_is_masked() {
    let server = simulator().await;
    let client = client(&server, 0);
    for typed in [
        "4096360800133951",
        "4096 3608 0013 3951",
        "4096-3608-0013-3951",
    ] {
        let errors = [
            client
                .update_card(Uuid::new_v4())
                .blocked_mcc([typed])
                .send()
                .await
                .unwrap_err(),
            client
                .assign_card()
                .cardholder_id(Uuid::new_v4())
                .card_number(pan(1))
                .card_currency(typed)
                .card_mode(CardMode::Single)
                .send()
                .await
                .unwrap_err(),
            client
                .update_card(Uuid::new_v4())
                .name_on_card(typed)
                .on_behalf_of(typed)
                .send()
                .await
                .unwrap_err(),
        ];
        for error in errors {
            assert!(error.is_validation(), "{error}");
            let text = format!("{error} {error:?}");
            assert!(!text.contains(typed), "{typed} leaks: {text}");
        }
    }
    assert_eq!(server.card_requests_received(), 0);
}

#[tokio::test]
async fn a_token_echoed_across_the_cut_never_leaks_a_prefix() {
    const SECRET: &str = "tok_SECRET_opaque_0123456789";
    for offset in [2030usize, 2040, 2044, 2048, 2052] {
        let page = format!(
            "<html>{}{SECRET}{}</html>",
            "x".repeat(offset - 6),
            "y".repeat(200)
        );
        let server = ScriptedServer::start(move |_| {
            Script::Answer(Canned {
                status: axum::http::StatusCode::BAD_GATEWAY,
                headers: vec![("content-type".into(), "text/html".into())],
                body: page.clone().into(),
            })
        })
        .await;
        let client = fast_builder(&server.base_url())
            .token(SECRET)
            .max_retries(0)
            .build()
            .unwrap();
        let error = update(&client).await.unwrap_err();
        let text = format!("{error} {error:?}");
        assert_eq!(error.status(), Some(502));
        for n in 6..=SECRET.len() {
            assert!(
                !text.contains(&SECRET[..n]),
                "offset {offset}: {:?} leaked",
                &SECRET[..n]
            );
        }
    }
}
