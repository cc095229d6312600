//! The card routes: Assign Card, Update Card Status, Update Card (each
//! through the [`pipeline`](crate::pipeline)), and Retrieve Card.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use uuid::Uuid;

use uqpay_issuing_raw::types::{
    AssignCardRequest, AssignCardResponse, CardMode, CardState, CardStatus, KnownErrorCode,
    OrderState, ReportedCardStatus, ReportedOrderStatus, RiskControls, UpdateCardRequest,
    UpdateCardResponse, UpdateCardStatusRequest, UpdateCardStatusResponse,
};
use uqpay_issuing_raw::{constraints, rules};

use crate::clock::api_time;
use crate::control::ConnectionKill;
use crate::faults::Fault;
use crate::orders::Change;
use crate::pipeline::headers::check_auth;
use crate::pipeline::{self, arrive, fault_response, refuse, Executed, Incoming};
use crate::ratelimit::Budget;
use crate::reply::Reply;
use crate::shared::Shared;
use crate::state::{Card, Route, State};
use crate::views::retrieved;

/// `POST /v1/issuing/cards/assign`: a new card (PENDING until its order
/// settles) for a card number not assigned yet.
pub(crate) async fn assign_card(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let incoming = Incoming {
        route: Route::AssignCard,
        path: "/v1/issuing/cards/assign".to_owned(),
        headers,
        body,
    };
    pipeline::run(
        shared,
        kill,
        incoming,
        |_: &AssignCardRequest| Ok(()),
        |state, desk, account, request| {
            let number = request.card_number.expose().to_owned();
            if state.card_numbers.contains_key(&number) {
                return Executed::refused(Reply::card_error(
                    KnownErrorCode::CardAlreadyAssigned,
                    format!(
                        "card_number: {} is already assigned",
                        request.card_number.masked()
                    ),
                ));
            }
            let card_id = Uuid::new_v4();
            let card = Card {
                card_id,
                account,
                cardholder_id: *request.cardholder_id,
                card_number: request.card_number,
                card_currency: request.card_currency.to_string(),
                card_mode: request.card_mode,
                card_status: CardState::Pending,
                card_order_id: String::new(),
                create_time: api_time(desk.now()),
                card_limit: None,
                name_on_card: None,
                no_pin_payment_amount: None,
                spending_controls: Vec::new(),
                risk_controls: RiskControls::default(),
                metadata: None,
                status_history: Vec::new(),
                updates: 0,
                update_reason: None,
                pending_order: None,
                status_order_id: None,
                cancel_at: None,
            };
            state.card_numbers.insert(number, card_id);
            state.cards.insert(card_id, card);
            let order_id = desk.place(state, card_id, Change::Assign);
            let card = state.cards.get_mut(&card_id).expect("just inserted");
            card.card_order_id = order_id.clone();
            Executed::committed(&AssignCardResponse {
                card_id,
                card_order_id: order_id,
                create_time: card.create_time,
                // ACTIVE once its order settled (at once unless orders are
                // delayed), PENDING before.
                card_status: ReportedCardStatus::Known(card.card_status),
                // The order as just created, as in UQPay's example.
                order_status: ReportedOrderStatus::Known(OrderState::Pending),
            })
        },
    )
    .await
}

/// `POST /v1/issuing/cards/{id}/status`: an order for a new status.
pub(crate) async fn update_card_status(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (card_id, incoming) =
        match card_incoming(&shared, Route::UpdateCardStatus, &id, headers, body) {
            Ok(parsed) => parsed,
            Err(reply) => return reply.into_response(),
        };
    pipeline::run(
        shared,
        kill,
        incoming,
        |_: &UpdateCardStatusRequest| Ok(()),
        move |state, desk, account, request| {
            let Some(card) = owned_card(state, &account, card_id) else {
                return Executed::refused(Reply::card_not_found(card_id));
            };
            if let Some(refused) = order_in_progress(card) {
                return refused;
            }
            let target = match request.card_status {
                CardStatus::Active => CardState::Active,
                CardStatus::Frozen => CardState::Frozen,
                CardStatus::Cancelled => CardState::Cancelled,
            };
            if !transition_allowed(card.card_status, target) {
                return Executed::refused(Reply::card_error(
                    KnownErrorCode::InvalidStatusTransition,
                    format!(
                        "card_status: a {} card cannot become {target}",
                        card.card_status
                    ),
                ));
            }
            let reason = request.update_reason.map(String::from);
            let change = Change::Status {
                target,
                reason: reason.clone(),
            };
            let order_id = desk.place(state, card_id, change);
            Executed::committed(&UpdateCardStatusResponse {
                card_id,
                card_order_id: order_id,
                order_status: ReportedOrderStatus::Known(OrderState::Pending),
                update_reason: reason,
            })
        },
    )
    .await
}

/// `POST /v1/issuing/cards/{id}`: an order that updates the card.
pub(crate) async fn update_card(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (card_id, incoming) = match card_incoming(&shared, Route::UpdateCard, &id, headers, body) {
        Ok(parsed) => parsed,
        Err(reply) => return reply.into_response(),
    };
    pipeline::run(
        shared,
        kill,
        incoming,
        validate_update_card,
        move |state, desk, account, request: UpdateCardRequest| {
            let Some(card) = owned_card(state, &account, card_id) else {
                return Executed::refused(Reply::card_not_found(card_id));
            };
            if let Some(refused) = order_in_progress(card) {
                return refused;
            }
            if matches!(
                card.card_status,
                CardState::Cancelled | CardState::PreCancel | CardState::Failed
            ) {
                return Executed::refused(Reply::card_error(
                    KnownErrorCode::CardCancelled,
                    format!(
                        "card {card_id} is {} and can no longer be updated",
                        card.card_status
                    ),
                ));
            }
            if request.card_limit.is_some() && card.card_mode == CardMode::Single {
                return Executed::refused(Reply::card_error(
                    KnownErrorCode::CardLimitNotAllowed,
                    "card_limit: must be left empty for a SINGLE card".into(),
                ));
            }
            let order_id = desk.place(state, card_id, Change::Update(Box::new(request)));
            let settled = state.cards[&card_id].pending_order.is_none();
            Executed::committed(&UpdateCardResponse {
                card_id,
                card_order_id: order_id,
                card_status: ReportedCardStatus::Known(state.cards[&card_id].card_status),
                // SUCCESS as in UQPay's example when the order settled at
                // once; PENDING while it waits.
                order_status: ReportedOrderStatus::Known(if settled {
                    OrderState::Success
                } else {
                    OrderState::Pending
                }),
            })
        },
    )
    .await
}

/// `GET /v1/issuing/cards/{id}`: the card from the simulator's state (as it
/// is: an order not settled yet has not changed it), its number masked.
pub(crate) async fn retrieve_card(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let route = Route::RetrieveCard;
    if let Some(fault) = arrive(&shared, route) {
        match fault {
            Fault::DropBeforeProcessing | Fault::DropAfterCommit => {
                return kill.drop_connection().await
            }
            other => return fault_response(other),
        }
    }
    let answer = if !shared.admit(Budget::Calls, Route::RetrieveCard) {
        Err(Reply::too_many_requests(None))
    } else {
        check_auth(&shared, &headers).and_then(|account| {
            let card_id = Uuid::parse_str(&id)
                .map_err(|_| Reply::invalid(format!("id: must be a UUID, got {id:?}")))?;
            let state = shared.state();
            let card = state
                .cards
                .get(&card_id)
                .filter(|card| card.account == account)
                .ok_or_else(|| Reply::card_not_found(card_id))?;
            Ok(Reply::ok(&retrieved(card)))
        })
    };
    match answer {
        Ok(reply) => reply.into_response(),
        Err(reply) => refuse(&shared, route, reply),
    }
}

/// A card operation on a card that has an order in flight is refused: its
/// earlier order must complete first.
fn order_in_progress(card: &Card) -> Option<Executed> {
    card.pending_order.as_ref().map(|order| {
        Executed::refused(Reply::card_error(
            KnownErrorCode::CardOrderInProgress,
            format!("the card's order {order} has not completed yet; retry when it has"),
        ))
    })
}

/// ACTIVE <-> FROZEN; ACTIVE, FROZEN or BLOCKED -> CANCELLED; PRE_CANCEL,
/// CANCELLED, FAILED and PENDING (an order in flight) allow no change.
fn transition_allowed(from: CardState, to: CardState) -> bool {
    matches!(
        (from, to),
        (
            CardState::Active | CardState::Frozen,
            CardState::Active | CardState::Frozen | CardState::Cancelled
        ) | (CardState::Blocked, CardState::Cancelled)
    )
}

/// Update Card checks that need only the body.
fn validate_update_card(request: &UpdateCardRequest) -> Result<(), Reply> {
    if request.sets_nothing() {
        return Err(Reply::invalid(
            "the request sets no field: give at least one of card_limit, name_on_card, \
             no_pin_payment_amount, spending_controls, risk_controls, metadata"
                .into(),
        ));
    }
    if let Some((at, c)) = request
        .name_on_card
        .as_ref()
        .filter(|_| constraints::NAME_ON_CARD_PRINTABLE)
        .and_then(|name| rules::unprintable(name))
    {
        return Err(Reply::invalid(format!(
            "name_on_card: {}",
            rules::unprintable_reason(at, c)
        )));
    }
    if let Some(size) = request.metadata.as_ref().and_then(|m| m.oversize()) {
        return Err(Reply::invalid(format!(
            "metadata: must be at most {} bytes of JSON, got {size}",
            constraints::METADATA_MAX_BYTES
        )));
    }
    Ok(())
}

/// The card `card_id` if `account` owns it.
fn owned_card<'a>(
    state: &'a mut State,
    account: &Option<String>,
    card_id: Uuid,
) -> Option<&'a mut Card> {
    state
        .cards
        .get_mut(&card_id)
        .filter(|card| card.account == *account)
}

/// The pipeline input of a route on one card: parses the `{id}` path
/// segment (a bad one is refused, and counted, at once).
fn card_incoming(
    shared: &Shared,
    route: Route,
    id: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<(Uuid, Incoming), Reply> {
    let card_id = Uuid::parse_str(id).map_err(|_| {
        let mut state = shared.state();
        let counters = state.counters(route);
        counters.received += 1;
        counters.refused += 1;
        Reply::invalid(format!("id: must be a UUID, got {id:?}"))
    })?;
    let path = match route {
        Route::UpdateCardStatus => format!("/v1/issuing/cards/{card_id}/status"),
        _ => format!("/v1/issuing/cards/{card_id}"),
    };
    let incoming = Incoming {
        route,
        path,
        headers,
        body,
    };
    Ok((card_id, incoming))
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::StatusCode;

    use crate::views::tests::card;

    fn update(body: serde_json::Value) -> UpdateCardRequest {
        serde_json::from_value(body).unwrap()
    }

    fn message(reply: Reply) -> String {
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        body["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn the_status_transitions_a_card_allows() {
        use CardState::*;
        let all = [
            Pending, Active, Frozen, Blocked, PreCancel, Cancelled, Failed,
        ];
        let allowed: Vec<(CardState, CardState)> = all
            .iter()
            .flat_map(|from| all.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| transition_allowed(*from, *to))
            .collect();
        assert_eq!(
            allowed,
            [
                (Active, Active),
                (Active, Frozen),
                (Active, Cancelled),
                (Frozen, Active),
                (Frozen, Frozen),
                (Frozen, Cancelled),
                (Blocked, Cancelled),
            ]
        );
    }

    #[test]
    fn an_update_must_set_something_printable_and_small_enough() {
        assert!(validate_update_card(&update(serde_json::json!({"name_on_card": "A B"}))).is_ok());
        let nothing = validate_update_card(&update(serde_json::json!({}))).unwrap_err();
        assert_eq!(nothing.status, StatusCode::BAD_REQUEST);
        assert!(message(nothing).starts_with("the request sets no field"));
        let big = update(serde_json::json!({"metadata": {"k": "v".repeat(3200)}}));
        assert!(message(validate_update_card(&big).unwrap_err()).starts_with("metadata: "));
        if constraints::NAME_ON_CARD_PRINTABLE {
            let tab = update(serde_json::json!({"name_on_card": "A\tB"}));
            assert!(message(validate_update_card(&tab).unwrap_err()).starts_with("name_on_card: "));
        }
    }

    #[test]
    fn a_card_belongs_to_its_account_and_an_unsettled_order_blocks_the_next() {
        let mut state = State::new(10);
        let mut mine = card("4096360800131111");
        mine.account = Some("CB4488338944".into());
        let id = mine.card_id;
        state.cards.insert(id, mine);
        assert!(owned_card(&mut state, &Some("CB4488338944".into()), id).is_some());
        assert!(owned_card(&mut state, &None, id).is_none());
        assert!(owned_card(&mut state, &Some("other".into()), id).is_none());
        let card = state.cards.get_mut(&id).unwrap();
        assert!(order_in_progress(card).is_none());
        card.pending_order = Some("order-9".into());
        let refused = order_in_progress(card).unwrap();
        assert!(!refused.committed);
        assert!(message(refused.reply).contains("order-9"));
    }
}
