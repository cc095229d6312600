//! Assign Card, Update Card, Update Card Status and Retrieve Card when
//! the request is valid: the docs' examples, the card lifecycle and what
//! each update changes.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uqpay_mock::{MockServer, Route};
use uuid::Uuid;

use crate::support::{api, pan, Api, ACCT_B};

#[tokio::test]
async fn the_docs_examples_work_end_to_end() {
    let api = api().await;
    let body: Value =
        serde_json::from_str(uqpay_issuing_raw::examples::ASSIGN_CARD_REQUEST).unwrap();
    let answer = api
        .call("/v1/issuing/cards/assign", Uuid::new_v4(), None, &body)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let assigned = answer.json();
    assert_eq!(assigned["card_status"], "ACTIVE");
    assert_eq!(assigned["order_status"], "PENDING");
    assert!(assigned["create_time"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));
    let card_id: Uuid = assigned["card_id"].as_str().unwrap().parse().unwrap();

    // SINGLE cards take no card_limit: drop it from the docs' example.
    let mut update: Value =
        serde_json::from_str(uqpay_issuing_raw::examples::UPDATE_CARD_REQUEST).unwrap();
    update.as_object_mut().unwrap().remove("card_limit");
    let answer = api.update(card_id, update).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
    assert_eq!(answer.json()["order_status"], "SUCCESS");

    let card = api.server.card(card_id).unwrap();
    assert_eq!(card.name_on_card.as_deref(), Some("MARSHALL HU"));
    assert_eq!(card.no_pin_payment_amount.unwrap().to_string(), "100");
    assert_eq!(card.spending_controls[0].amount.to_string(), "100.03");
    let blocked: Vec<String> = card
        .risk_controls
        .blocked_mcc
        .iter()
        .flatten()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(blocked, ["5999", "6011"]);
    assert_eq!(card.metadata.unwrap()["key1"], "value1");
    assert_eq!(card.card_number.expose(), "4096360800133951");
    assert!(!format!("{:?}", api.server.card(card_id).unwrap()).contains("4096360800133951"));
}

#[tokio::test]
async fn card_limit_is_stored_exactly_on_share_cards() {
    let api = api().await;
    let card = api.assign(&pan(1)).await;
    let answer = api
        .update(
            card,
            json!({"card_limit": 2100.02, "no_pin_payment_amount": 0}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let stored = api.server.card(card).unwrap();
    assert_eq!(stored.card_limit.unwrap().to_string(), "2100.02");
    assert_eq!(stored.no_pin_payment_amount.unwrap().to_string(), "0");
    assert_eq!(stored.updates, 1);
}

#[tokio::test]
async fn a_card_number_is_assigned_once() {
    let api = api().await;
    api.assign(&pan(15)).await;
    let body = json!({"cardholder_id": Uuid::new_v4(), "card_number": pan(15), "card_currency": "EUR", "card_mode": "SINGLE"});
    let answer = api
        .call(
            "/v1/issuing/cards/assign",
            Uuid::new_v4(),
            Some(ACCT_B),
            &body,
        )
        .await;
    let error = answer.card_error("card_already_assigned");
    assert!(
        !error.to_string().contains(&pan(15)),
        "the PAN leaks: {error}"
    );
    assert_eq!(api.server.cards().len(), 1);
}

#[tokio::test]
async fn the_card_lifecycle() {
    let api = api().await;
    let card = api.assign(&pan(16)).await;
    let status = |api: &Api| api.server.card(card).unwrap().card_status.to_string();
    assert_eq!(api.set_status(card, "FROZEN").await.status, StatusCode::OK);
    assert_eq!(status(&api), "FROZEN");
    assert_eq!(api.set_status(card, "ACTIVE").await.status, StatusCode::OK);
    assert_eq!(status(&api), "ACTIVE");
    assert_eq!(
        api.set_status(card, "CANCELLED").await.status,
        StatusCode::OK
    );
    assert_eq!(status(&api), "CANCELLED");
    for target in ["ACTIVE", "FROZEN", "CANCELLED"] {
        api.set_status(card, target)
            .await
            .card_error("invalid_status_transition");
    }
    api.update(card, json!({"name_on_card": "LATE"}))
        .await
        .card_error("card_cancelled");
    let stored = api.server.card(card).unwrap();
    // A cancellation goes through PRE_CANCEL (with no pre-cancel period
    // configured, straight on to CANCELLED).
    let history: Vec<String> = stored
        .status_history
        .iter()
        .map(|(status, _)| status.to_string())
        .collect();
    assert_eq!(
        history,
        ["ACTIVE", "FROZEN", "ACTIVE", "PRE_CANCEL", "CANCELLED"]
    );
    assert_eq!(stored.updates, 0);

    // A frozen card can be cancelled directly.
    let other = api.assign(&pan(17)).await;
    assert_eq!(api.set_status(other, "FROZEN").await.status, StatusCode::OK);
    assert_eq!(
        api.set_status(other, "CANCELLED").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn card_limit_on_a_single_card_is_refused() {
    let api = api().await;
    let card = api.assign_as(None, &pan(18), "SINGLE").await;
    let error = api
        .update(card, json!({"card_limit": 10}))
        .await
        .card_error("card_limit_not_allowed");
    assert!(error["message"].as_str().unwrap().contains("card_limit"));
    assert_eq!(api.server.card(card).unwrap().card_limit, None);
}

#[tokio::test]
async fn updates_replace_fields_and_merge_risk_controls() {
    let api = api().await;
    let card = api.assign(&pan(19)).await;
    let first = json!({
        "spending_controls": [{"amount": 1, "interval": "DAILY"}, {"amount": 2, "interval": "MONTHLY"}],
        "risk_controls": {"enable_3ds": "Y", "blocked_mcc": ["5999"]},
        "metadata": {"a": 1}
    });
    assert_eq!(api.update(card, first).await.status, StatusCode::OK);
    let second = json!({
        "spending_controls": [{"amount": 3, "interval": "ALL_TIME"}],
        "risk_controls": {"allow_3ds_transactions": "N"},
        "metadata": {"b": 2}
    });
    assert_eq!(api.update(card, second).await.status, StatusCode::OK);
    let stored = api.server.card(card).unwrap();
    assert_eq!(stored.spending_controls.len(), 1);
    assert_eq!(stored.spending_controls[0].amount.to_string(), "3");
    let risk = serde_json::to_value(&stored.risk_controls).unwrap();
    assert_eq!(
        risk,
        json!({"enable_3ds": "Y", "allow_3ds_transactions": "N", "blocked_mcc": ["5999"]})
    );
    assert_eq!(
        serde_json::to_value(stored.metadata).unwrap(),
        json!({"b": 2})
    );
    assert_eq!(stored.updates, 2);
}

#[tokio::test]
async fn retrieve_card_answers_from_the_state_with_the_number_masked() {
    let api = Api::start(MockServer::builder()).await;
    let assigned = api.assign_card("4096360800135668", "SHARE").await;
    let card = assigned["card_id"].as_str().unwrap();
    let (status, _) = api
        .post(
            &format!("/v1/issuing/cards/{card}"),
            json!({"card_limit": 2100.02, "no_pin_payment_amount": 100,
                   "spending_controls": [{"amount": 100.03, "interval": "PER_TRANSACTION"}],
                   "risk_controls": {"blocked_mcc": ["5999"]}, "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.get(card, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["card_id"], card);
    assert_eq!(body["card_status"], "ACTIVE");
    assert_eq!(body["card_number"], "************5668");
    assert!(!body.to_string().contains("4096360800135668"));
    assert_eq!(body["card_bin"], "40963608");
    assert_eq!(body["card_scheme"], "VISA");
    // The documented forms: the limit a number, the balance a string, the
    // no-PIN amount with its currency glued on.
    assert_eq!(body["card_limit"].to_string(), "2100.02");
    assert_eq!(body["available_balance"], "2100.02");
    assert_eq!(body["no_pin_payment_amount"], "100USD");
    assert_eq!(body["spending_controls"][0]["amount"], "100.03");
    assert_eq!(body["risk_controls"]["blocked_mcc"], json!(["5999"]));
    assert_eq!(body["metadata"], json!({"k": "v"}));
    assert_eq!(api.server.counters(Route::RetrieveCard).received, 1);

    // Unknown, or another account's: UQPay's card_not_found.
    for (id, account) in [
        (Uuid::new_v4().to_string(), None),
        (
            card.to_owned(),
            Some("6f0c7a52-2b7e-4a0e-9d55-3c6d1b0f9e11"),
        ),
    ] {
        let (status, body) = api.get(&id, account).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "card_not_found", "{body}");
    }
    let (status, body) = api.get("not-a-uuid", None).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request_error"))
    );
}
