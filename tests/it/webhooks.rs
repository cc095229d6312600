//! Orders end to end: the SDK drives the simulator, whose orders settle and
//! whose signed events an axum receiver verifies with the SDK's `Verifier`,
//! while refusing a quarter of the deliveries. Every order's events arrive,
//! each processed exactly once (deduplicated by event_id).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rust_decimal_macros::dec;
use uqpay_e2e::{assign_request, client, pan, TOKEN};
use uqpay_issuing::webhooks::{EventData, Verifier};
use uqpay_issuing::{CardMode, CardStatus};
use uqpay_mock::MockServer;

const SECRET: &str = "whsec_e2e_0123456789";

/// What the receiver did.
#[derive(Default)]
struct Inbox {
    /// Events processed, by event_id (each processed once).
    processed: Mutex<HashMap<String, (String, String, String)>>,
    /// Per card, the statuses its events reported, in the order processed.
    timeline: Mutex<HashMap<String, Vec<String>>>,
    /// Deliveries of an event already processed (acknowledged, not redone).
    duplicates: AtomicUsize,
    /// Deliveries refused on purpose.
    refused: AtomicUsize,
    /// Deliveries that did not verify.
    unverified: AtomicUsize,
    deliveries: AtomicUsize,
}

struct Receiver {
    verifier: Verifier,
    inbox: Inbox,
}

/// Verifies, deduplicates by event_id, records; every 4th delivery (25%)
/// fails after processing, as a receiver that crashes before answering
/// would (UQPay then delivers the event again).
async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let inbox = &receiver.inbox;
    let n = inbox.deliveries.fetch_add(1, Ordering::SeqCst);
    let event = match receiver.verifier.verify_headers(&headers, &body) {
        Ok(event) => event,
        Err(_) => {
            inbox.unverified.fetch_add(1, Ordering::SeqCst);
            return StatusCode::BAD_REQUEST;
        }
    };
    let (card, status) = match &event.data {
        EventData::CardCreated(d) => (&d.card_id, d.card_status.as_ref().map(ToString::to_string)),
        EventData::CardUpdated(d) => (&d.card_id, d.order_status.as_ref().map(ToString::to_string)),
        EventData::CardStatusUpdated(d) => {
            (&d.card_id, d.card_status.as_ref().map(ToString::to_string))
        }
        other => panic!("unexpected event {other:?}"),
    };
    let (card, status) = (card.clone().unwrap_or_default(), status.unwrap_or_default());
    let mut processed = inbox.processed.lock().unwrap();
    if processed.contains_key(&event.event_id) {
        inbox.duplicates.fetch_add(1, Ordering::SeqCst);
    } else {
        inbox
            .timeline
            .lock()
            .unwrap()
            .entry(card)
            .or_default()
            .push(status.clone());
        processed.insert(
            event.event_id.clone(),
            (
                event.source_id.clone(),
                event.event_type.to_string(),
                status,
            ),
        );
    }
    if n % 4 == 3 {
        inbox.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::OK
}

async fn start_receiver() -> (String, Arc<Receiver>) {
    let receiver = Arc::new(Receiver {
        verifier: Verifier::new(SECRET),
        inbox: Inbox::default(),
    });
    let app = axum::Router::new()
        .route("/uqpay", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/uqpay", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_ends_in_its_event_delivered_once_through_a_flaky_receiver() {
    let (url, receiver) = start_receiver().await;
    let server = MockServer::builder()
        .token(TOKEN)
        .webhook(&url, SECRET)
        .webhook_redelivery(12, Duration::from_millis(5), Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let client = client(&server, 3);
    // For each order the SDK placed: the events it must produce.
    let mut expected: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let events = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    for i in 0..12u64 {
        let assigned = assign_request(&client, &pan(500 + i), CardMode::Share)
            .send()
            .await
            .unwrap();
        let card = assigned.card_id;
        expected.insert(
            assigned.card_order_id.clone(),
            events(&[("card.create.succeeded", "ACTIVE")]),
        );
        let updated = client
            .update_card(card)
            .card_limit(dec!(2100.02))
            .send()
            .await
            .unwrap();
        expected.insert(
            updated.card_order_id.clone(),
            events(&[("card.update.succeeded", "success")]),
        );
        for (status, published) in [
            (
                CardStatus::Frozen,
                events(&[("card.status.update.succeeded", "FROZEN")]),
            ),
            (
                CardStatus::Active,
                events(&[("card.status.update.succeeded", "ACTIVE")]),
            ),
            (
                CardStatus::Cancelled,
                events(&[
                    ("card.status.update.succeeded", "PRE_CANCEL"),
                    ("card.status.update.succeeded", "CANCELLED"),
                ]),
            ),
        ] {
            let changed = client
                .update_card_status(card)
                .card_status(status)
                .send()
                .await
                .unwrap();
            expected.insert(changed.card_order_id.clone(), published);
        }
    }
    server.wait_for_deliveries().await;

    let inbox = &receiver.inbox;
    assert_eq!(inbox.unverified.load(Ordering::SeqCst), 0);
    assert!(
        inbox.refused.load(Ordering::SeqCst) > 0,
        "the receiver never failed"
    );
    assert!(
        inbox.duplicates.load(Ordering::SeqCst) > 0,
        "no redelivery was recognised as a duplicate"
    );
    let deliveries = server.deliveries();
    assert!(deliveries.iter().all(|d| d.delivered), "an event was lost");
    // Each event processed once, whatever the redeliveries.
    let processed = inbox.processed.lock().unwrap().clone();
    assert_eq!(processed.len(), deliveries.len());
    let mut by_order: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (source, kind, status) in processed.values() {
        by_order
            .entry(source.clone())
            .or_default()
            .push((kind.clone(), status.clone()));
    }
    for events in by_order.values_mut() {
        events.sort();
    }
    for events in expected.values_mut() {
        events.sort();
    }
    assert_eq!(by_order, expected);
    // Each card's events arrived in the order they happened.
    let timeline = inbox.timeline.lock().unwrap();
    assert_eq!(timeline.len(), 12);
    for statuses in timeline.values() {
        assert_eq!(
            statuses,
            &[
                "ACTIVE",
                "success",
                "FROZEN",
                "ACTIVE",
                "PRE_CANCEL",
                "CANCELLED"
            ]
        );
    }
    println!(
        "{} orders, {} events, {} deliveries ({} failed by the receiver, {} duplicates recognised)",
        expected.len(),
        processed.len(),
        inbox.deliveries.load(Ordering::SeqCst),
        inbox.refused.load(Ordering::SeqCst),
        inbox.duplicates.load(Ordering::SeqCst)
    );
}
