//! Connected accounts (`x-on-behalf-of`): what names one, and that a card
//! exists for the account that assigned it only.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::support::{api, assign_body, pan, ACCT_A, ACCT_B};

#[tokio::test]
async fn cards_are_scoped_to_the_account_that_assigned_them() {
    let api = api().await;
    let card = api.assign_as(Some(ACCT_A), &pan(4), "SHARE").await;
    let path = format!("/v1/issuing/cards/{card}/status");
    let body = json!({"card_status": "FROZEN"});
    // Another account, or the master account: UQPay's "card not found or
    // deactivated", not a 404.
    for account in [Some(ACCT_B), None] {
        let answer = api.call(&path, Uuid::new_v4(), account, &body).await;
        answer.card_not_found();
    }
    let answer = api.call(&path, Uuid::new_v4(), Some(ACCT_A), &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    let stored = api.server.card(card).unwrap();
    assert_eq!(stored.account.as_deref(), Some(ACCT_A));
    assert_eq!(stored.card_status.to_string(), "FROZEN");
}

#[tokio::test]
async fn on_behalf_of_is_a_uuid_or_a_short_id_and_never_empty() {
    let api = api().await;
    let body = assign_body(&pan(46), "SINGLE");
    for account in [
        "",
        " ",
        "acct_A",
        "not-a-uuid",
        "CB4",
        "CB 4488338944",
        &"A".repeat(33),
    ] {
        let answer = api
            .call(
                "/v1/issuing/cards/assign",
                Uuid::new_v4(),
                Some(account),
                &body,
            )
            .await;
        let error = answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with("x-on-behalf-of"),
            "{account:?}: {error}"
        );
    }
    assert!(api.server.cards().is_empty());
    // A short id (as UQPay's MCP server passes them) is an account; a UUID
    // in capitals is the same account as in lower case.
    let short = api.assign_as(Some("CB4488338944"), &pan(47), "SHARE").await;
    assert_eq!(
        api.server.card(short).unwrap().account.as_deref(),
        Some("CB4488338944")
    );
    let upper = ACCT_A.to_ascii_uppercase();
    let card = api.assign_as(Some(&upper), &pan(48), "SHARE").await;
    assert_eq!(
        api.server.card(card).unwrap().account.as_deref(),
        Some(ACCT_A)
    );
    let path = format!("/v1/issuing/cards/{short}/status");
    let freeze = json!({"card_status": "FROZEN"});
    api.call(&path, Uuid::new_v4(), Some(ACCT_A), &freeze)
        .await
        .card_not_found();
    let frozen = api
        .call(&path, Uuid::new_v4(), Some("CB4488338944"), &freeze)
        .await;
    assert_eq!(frozen.status, StatusCode::OK, "{}", frozen.json());
}
