//! UQPay's published examples, verbatim: the request and response examples
//! of the endpoint pages (the docs' `--data` and 200 examples) and the
//! webhook payloads of its webhook pages and SDKs. The crates' own tests
//! read them from here (so that no test of a published crate reaches
//! outside its own directory), and they serve a user's tests as well: a
//! webhook handler fed UQPay's own payloads, signed with
//! [`signature::sign`](crate::signature::sign).

/// `assign_card.request.json`.
pub const ASSIGN_CARD_REQUEST: &str = include_str!("../data/assign_card.request.json");
/// `assign_card.response.json`.
pub const ASSIGN_CARD_RESPONSE: &str = include_str!("../data/assign_card.response.json");
/// `retrieve_card.response.json`.
pub const RETRIEVE_CARD_RESPONSE: &str = include_str!("../data/retrieve_card.response.json");
/// `update_card.request.json`.
pub const UPDATE_CARD_REQUEST: &str = include_str!("../data/update_card.request.json");
/// `update_card.response.json`.
pub const UPDATE_CARD_RESPONSE: &str = include_str!("../data/update_card.response.json");
/// `update_card_status.request.json`.
pub const UPDATE_CARD_STATUS_REQUEST: &str =
    include_str!("../data/update_card_status.request.json");
/// `update_card_status.response.json`.
pub const UPDATE_CARD_STATUS_RESPONSE: &str =
    include_str!("../data/update_card_status.response.json");

/// `webhooks/card.update.succeeded.json`: UQPay's published Update Card event.
pub const UPDATE_CARD_SUCCEEDED_WEBHOOK: &str =
    include_str!("../data/webhooks/card.update.succeeded.json");

/// The webhook payloads UQPay publishes, with their file names (the event
/// type, and `.older` for a payload in an earlier shape).
pub const WEBHOOKS: [(&str, &str); 6] = [
    (
        "card.activation.code.json",
        include_str!("../data/webhooks/card.activation.code.json"),
    ),
    (
        "card.activation.status.json",
        include_str!("../data/webhooks/card.activation.status.json"),
    ),
    (
        "card.create.succeeded.json",
        include_str!("../data/webhooks/card.create.succeeded.json"),
    ),
    (
        "card.status.update.succeeded.json",
        include_str!("../data/webhooks/card.status.update.succeeded.json"),
    ),
    (
        "card.update.succeeded.json",
        include_str!("../data/webhooks/card.update.succeeded.json"),
    ),
    (
        "card.update.succeeded.older.json",
        include_str!("../data/webhooks/card.update.succeeded.older.json"),
    ),
];
