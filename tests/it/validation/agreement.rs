//! Differential validation: for random and boundary inputs of every field,
//! (1) the client never panics, and (2) the client and the simulator agree:
//! what the client accepts the simulator accepts, and what the client
//! refuses the simulator refuses when the same JSON is sent to it raw.
//! (Property tests: synchronous, on a simulator of their own runtime.)

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rust_decimal::Decimal;
use serde_json::json;
use uqpay_e2e::SyncWorld;
use uqpay_issuing::{CardMode, CardStatus, Error, SpendingInterval};
use uuid::Uuid;

const CASES: u32 = 1_500;

/// One simulator, client and card for the tests of this module.
fn world() -> &'static SyncWorld {
    static WORLD: OnceLock<SyncWorld> = OnceLock::new();
    WORLD.get_or_init(SyncWorld::new)
}

/// Sends `body` raw to `path`; returns the status and the error's `type`.
fn raw(path: &str, body: &str) -> (u16, Option<String>) {
    let (status, text) = world().post_raw(path, body.to_owned());
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    (status, body["type"].as_str().map(str::to_owned))
}

/// The client's verdict (validation only, nothing sent; `Ok` holds the exact
/// body it would send) vs the simulator's on the JSON the client would have
/// sent without validation.
fn agree(
    field: &str,
    client_verdict: Result<String, Error>,
    path: &str,
    unvalidated_json: &str,
) -> Result<(), TestCaseError> {
    let (status, kind) = match &client_verdict {
        // Accepted: send exactly what the client would send.
        Ok(body) => raw(path, body),
        Err(Error::Validation { .. }) => raw(path, unvalidated_json),
        Err(other) => {
            return Err(TestCaseError::fail(format!(
                "{field}: unexpected {other:?}"
            )))
        }
    };
    match client_verdict {
        // Accepted by both, or refused by a rule of the card's state (a
        // card_error: validation agreed).
        Ok(body) => prop_assert!(
            status == 200 || (status == 400 && kind.as_deref() == Some("card_error")),
            "{}: the client accepts {} but the simulator answers {} {:?}",
            field,
            body,
            status,
            kind
        ),
        Err(error) => prop_assert_eq!(
            (status, kind.as_deref()),
            (400, Some("invalid_request_error")),
            "{}: the client refuses ({}) but the simulator answers {} to {}",
            field,
            error,
            status,
            unvalidated_json
        ),
    }
    Ok(())
}

fn update_path() -> String {
    format!("/v1/issuing/cards/{}", world().card)
}

fn status_path() -> String {
    format!("/v1/issuing/cards/{}/status", world().card)
}

/// Strings around a length boundary, from a mixed alphabet (ASCII, accents,
/// emoji, CJK, control characters).
fn text(max: usize) -> impl Strategy<Value = String> {
    let alphabet = prop_oneof![
        8 => proptest::char::range('A', 'Z'),
        2 => Just(' '),
        2 => proptest::char::range('à', 'ÿ'),
        1 => proptest::char::range('😀', '🙏'),
        1 => proptest::char::range('一', '龥'),
        1 => proptest::char::range('\u{0}', '\u{1f}'),
    ];
    prop_oneof![
        proptest::collection::vec(alphabet.clone(), 0..=max + 3),
        proptest::collection::vec(alphabet, max - 1..=max + 1),
    ]
    .prop_map(|chars| chars.into_iter().collect())
}

/// Decimals: small and huge, negative, zero, many scales.
fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        (-1000i64..1000, 0u32..=4).prop_map(|(m, s)| Decimal::new(m, s)),
        (any::<i128>(), 0u32..=28).prop_filter_map("in range", |(m, s)| {
            Decimal::try_from_i128_with_scale(m % (1i128 << 95), s).ok()
        }),
        Just(Decimal::ZERO),
        Just(Decimal::new(-1, 2)),
        Just(Decimal::NEGATIVE_ONE * Decimal::ZERO),
        Just(Decimal::MAX),
        Just(Decimal::MIN),
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn name_on_card(name in text(26)) {
        let verdict = world().client.update_card(world().card).name_on_card(name.clone()).body();
        let verdict = verdict.map(|b| serde_json::to_string(&b).unwrap());
        agree("name_on_card", verdict, &update_path(), &json!({"name_on_card": name}).to_string())?;
    }

    #[test]
    fn update_reason(reason in text(100)) {
        let verdict = world()
            .client
            .update_card_status(world().card)
            .card_status(CardStatus::Frozen)
            .update_reason(reason.clone())
            .body()
            .map(|b| serde_json::to_string(&b).unwrap());
        let json = json!({"card_status": "FROZEN", "update_reason": reason}).to_string();
        agree("update_reason", verdict, &status_path(), &json)?;
    }

    #[test]
    fn amounts(value in decimal(), which in 0usize..3) {
        let update = world().client.update_card(world().card);
        let (field, update, json) = match which {
            0 => ("card_limit", update.card_limit(value), format!(r#"{{"card_limit":{value}}}"#)),
            1 => (
                "no_pin_payment_amount",
                update.no_pin_payment_amount(value),
                format!(r#"{{"no_pin_payment_amount":{value}}}"#),
            ),
            _ => (
                "spending_controls",
                update.spending_control(value, SpendingInterval::Monthly),
                format!(r#"{{"spending_controls":[{{"amount":{value},"interval":"MONTHLY"}}]}}"#),
            ),
        };
        let verdict = update.body().map(|b| serde_json::to_string(&b).unwrap());
        // The exact digits go on the wire.
        if let Ok(body) = &verdict {
            prop_assert!(body.contains(&value.abs().to_string()), "{} lost digits of {}", body, value);
        }
        agree(field, verdict, &update_path(), &json)?;
    }

    #[test]
    fn card_number(number in prop_oneof![
        "[0-9]{0,22}",
        "[0-9]{11,20}",
        "[0-9 a-z-]{10,20}",
        "[٠-٩0-9]{12,16}",
    ]) {
        let request = world()
            .client
            .assign_card()
            .cardholder_id(Uuid::new_v4())
            .card_number(number.clone())
            .card_currency("USD")
            .card_mode(CardMode::Single);
        let verdict = request.body().map(|b| serde_json::to_string(&b).unwrap());
        let json = json!({"cardholder_id": Uuid::new_v4(), "card_number": number,
                          "card_currency": "USD", "card_mode": "SINGLE"});
        agree("card_number", verdict, "/v1/issuing/cards/assign", &json.to_string())?;
    }

    #[test]
    fn card_currency(currency in prop_oneof!["[A-Z]{0,5}", "[A-Za-z0-9$]{2,4}", "[A-ZÀ-Ý]{3}"]) {
        let request = world()
            .client
            .assign_card()
            .cardholder_id(Uuid::new_v4())
            .card_number(format!("5{:015}", rand_u64()))
            .card_currency(currency.clone())
            .card_mode(CardMode::Single);
        let body = request.body();
        let json = json!({"cardholder_id": Uuid::new_v4(), "card_number": "4096360800133951",
                          "card_currency": currency, "card_mode": "SINGLE"});
        let verdict = body.map(|b| serde_json::to_string(&b).unwrap());
        agree("card_currency", verdict, "/v1/issuing/cards/assign", &json.to_string())?;
    }

    #[test]
    fn mccs(codes in proptest::collection::vec(prop_oneof!["[0-9]{3,5}", "[0-9a-z]{4}"], 0..5),
            blocked in any::<bool>()) {
        let update = world().client.update_card(world().card);
        let (update, field) = if blocked {
            (update.blocked_mcc(codes.clone()), "blocked_mcc")
        } else {
            (update.allowed_mcc(codes.clone()), "allowed_mcc")
        };
        let verdict = update.body().map(|b| serde_json::to_string(&b).unwrap());
        let json = json!({"risk_controls": {field: codes}}).to_string();
        agree(field, verdict, &update_path(), &json)?;
    }

    #[test]
    fn metadata(key in "[a-z]{1,8}", size in 3150usize..3250, unicode in any::<bool>()) {
        let unit = if unicode { "é" } else { "v" };
        let value: String = unit.repeat(size / unit.len());
        let verdict = world()
            .client
            .update_card(world().card)
            .metadata(key.clone(), value.clone())
            .body()
            .map(|b| serde_json::to_string(&b).unwrap());
        let json = json!({"metadata": {key: value}}).to_string();
        agree("metadata", verdict, &update_path(), &json)?;
    }
}

fn rand_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The client's `send()` never panics on any input either (a quick run over
/// the same strategies, with the network in the loop).
#[test]
fn send_never_panics_on_odd_input() {
    let world = world();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(text(30), decimal(), "[0-9a-z]{0,6}"),
            |(name, amount, mcc)| {
                let result = world.runtime.block_on(
                    world
                        .client
                        .update_card(world.card)
                        .name_on_card(name)
                        .no_pin_payment_amount(amount)
                        .blocked_mcc([mcc])
                        .send(),
                );
                prop_assert!(
                    matches!(result, Ok(_) | Err(Error::Validation { .. })),
                    "{result:?}"
                );
                Ok(())
            },
        )
        .unwrap();
}
