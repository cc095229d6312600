//! Delivering events the way UQPay does: a JSON POST to the configured URL
//! with `x-wk-timestamp` (Unix seconds) and `x-wk-signature` (hex
//! HMAC-SHA512 of the body followed by the timestamp, keyed by the secret).
//! A non-2xx answer or a connection failure is redelivered with backoff,
//! the same `event_id` and body every time, up to a bounded number of
//! attempts; an event that runs out of attempts is kept (never lost while
//! the simulator runs) and can be redelivered on demand. The events of one
//! card are delivered one after the other, in the order they happened
//! (PRE_CANCEL before CANCELLED); different cards' events travel side by
//! side.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{mpsc, watch, Notify};
use uqpay_issuing_raw::signature;

use crate::events::Published;

/// Where and how events are delivered.
#[derive(Clone, Debug)]
pub(crate) struct WebhookConfig {
    pub(crate) url: String,
    pub(crate) secret: String,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
}

/// One event and how its delivery went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The event's id (the same on every attempt).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The order (or card) it is about.
    pub source_id: String,
    /// The card it is about (its events are delivered in order).
    pub card_id: String,
    /// The body sent (the same on every attempt).
    pub body: Bytes,
    /// How many times it was sent.
    pub attempts: u32,
    /// Whether the receiver acknowledged it with a 2xx.
    pub delivered: bool,
    /// Whether it ran out of attempts (see `MockServer::redeliver_failed`).
    pub gave_up: bool,
}

/// The events published, in order, numbered from 0: the oldest settled ones
/// (delivered or given up on) are dropped beyond the capacity, so that a
/// long run's memory is bounded (an event and its body are about a
/// kilobyte).
#[derive(Debug)]
struct EventLog {
    entries: VecDeque<Delivery>,
    /// How many were dropped from the front (the number of the first kept).
    dropped: usize,
    capacity: usize,
}

impl EventLog {
    fn get_mut(&mut self, index: usize) -> Option<&mut Delivery> {
        self.entries.get_mut(index.checked_sub(self.dropped)?)
    }

    /// Adds `delivery`; its number.
    fn push(&mut self, delivery: Delivery) -> usize {
        self.entries.push_back(delivery);
        while self.entries.len() > self.capacity
            && self
                .entries
                .front()
                .is_some_and(|d| d.delivered || d.gave_up)
        {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.dropped + self.entries.len() - 1
    }
}

/// The events published so far and their deliveries.
#[derive(Debug)]
pub(crate) struct Webhooks {
    config: Option<WebhookConfig>,
    http: reqwest::Client,
    log: Mutex<EventLog>,
    /// One queue per card: its events are delivered in order.
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<usize>>>,
    /// Orders placed and not settled yet (their events are still to come).
    unsettled_orders: AtomicUsize,
    changed: Notify,
    shutdown: watch::Receiver<bool>,
}

impl Webhooks {
    pub(crate) fn new(
        config: Option<WebhookConfig>,
        capacity: usize,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a reqwest client with these settings always builds");
        Self {
            config,
            http,
            log: Mutex::new(EventLog {
                entries: VecDeque::new(),
                dropped: 0,
                capacity,
            }),
            queues: Mutex::new(HashMap::new()),
            unsettled_orders: AtomicUsize::new(0),
            changed: Notify::new(),
            shutdown,
        }
    }

    /// An order will settle later (its events are to come).
    pub(crate) fn order_placed(&self) {
        self.unsettled_orders.fetch_add(1, Ordering::SeqCst);
    }

    /// A delayed order settled (its events are published).
    pub(crate) fn order_settled(&self) {
        self.unsettled_orders.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    fn log(&self) -> std::sync::MutexGuard<'_, EventLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `events` and, with a webhook URL, queues each for delivery
    /// after the earlier events of its card.
    pub(crate) fn publish(self: &Arc<Self>, events: Vec<Published>) {
        for Published { event, card_id } in events {
            let body = Bytes::from(serde_json::to_vec(&event).expect("events serialise"));
            let index = self.log().push(Delivery {
                event_id: event.event_id.clone(),
                event_type: event.event_type.clone(),
                source_id: event.source_id.clone(),
                card_id: card_id.clone(),
                body,
                attempts: 0,
                delivered: false,
                gave_up: self.config.is_none(),
            });
            tracing::debug!(event_type = %event.event_type, event_id = %event.event_id, "event published");
            self.changed.notify_waiters();
            self.enqueue(card_id, index);
        }
    }

    /// Queues event `index` behind the earlier events of `card_id`.
    fn enqueue(self: &Arc<Self>, card_id: String, index: usize) {
        if self.config.is_none() {
            return;
        }
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = queues.entry(card_id).or_insert_with(|| {
            let (sender, mut receiver) = mpsc::unbounded_channel::<usize>();
            let this = self.clone();
            tokio::spawn(async move {
                while let Some(index) = receiver.recv().await {
                    this.deliver(index).await;
                }
            });
            sender
        });
        let _ = queue.send(index);
    }

    /// Delivers event `index`, retrying as configured.
    async fn deliver(&self, index: usize) {
        let Some(config) = self.config.as_ref() else {
            return;
        };
        let mut shutdown = self.shutdown.clone();
        let mut backoff = config.backoff;
        loop {
            let (body, attempt) = {
                let mut log = self.log();
                // Unsettled events are never dropped; this one can only be
                // missing if something is badly wrong.
                let Some(delivery) = log.get_mut(index) else {
                    return;
                };
                delivery.attempts += 1;
                (delivery.body.clone(), delivery.attempts)
            };
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                .to_string();
            let signature = signature::sign(config.secret.as_bytes(), &body, &timestamp);
            let sent = self
                .http
                .post(&config.url)
                .header("content-type", "application/json")
                .header("x-wk-timestamp", &timestamp)
                .header("x-wk-signature", signature)
                .body(body)
                .send()
                .await;
            let acknowledged = matches!(&sent, Ok(response) if response.status().is_success());
            if acknowledged || attempt >= config.max_attempts {
                if let Some(delivery) = self.log().get_mut(index) {
                    delivery.delivered = acknowledged;
                    delivery.gave_up = !acknowledged;
                }
                self.changed.notify_waiters();
                return;
            }
            tracing::debug!(attempt, ?backoff, "webhook delivery failed; redelivering");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            backoff = (backoff * 2).min(config.max_backoff);
        }
    }

    /// Every event published so far (and kept), in order.
    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.log().entries.iter().cloned().collect()
    }

    /// Delivers again the events that ran out of attempts.
    pub(crate) fn redeliver_failed(self: &Arc<Self>) {
        let failed: Vec<(String, usize)> = {
            let mut log = self.log();
            let first = log.dropped;
            log.entries
                .iter_mut()
                .enumerate()
                .filter(|(_, d)| d.gave_up && !d.delivered)
                .map(|(i, d)| {
                    d.gave_up = false;
                    d.attempts = 0;
                    (d.card_id.clone(), first + i)
                })
                .collect()
        };
        for (card_id, index) in failed {
            self.enqueue(card_id, index);
        }
    }

    /// Waits until every order placed so far has settled and every event
    /// published is delivered or given up on.
    pub(crate) async fn settled(&self) {
        loop {
            let notified = self.changed.notified();
            let orders_settled = self.unsettled_orders.load(Ordering::SeqCst) == 0;
            if orders_settled && self.log().entries.iter().all(|d| d.delivered || d.gave_up) {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(n: usize, settled: bool) -> Delivery {
        Delivery {
            event_id: format!("event-{n}"),
            event_type: "card.create.succeeded".into(),
            source_id: format!("order-{n}"),
            card_id: "card".into(),
            body: Bytes::from_static(b"{}"),
            attempts: 0,
            delivered: settled,
            gave_up: false,
        }
    }

    #[test]
    fn the_log_drops_the_oldest_settled_events_beyond_its_capacity_and_keeps_numbering() {
        let mut log = EventLog {
            entries: VecDeque::new(),
            dropped: 0,
            capacity: 2,
        };
        // An unsettled event at the front holds the ones behind it.
        assert_eq!(log.push(delivery(0, false)), 0);
        assert_eq!(log.push(delivery(1, true)), 1);
        assert_eq!(log.push(delivery(2, true)), 2);
        assert_eq!(log.entries.len(), 3);
        log.get_mut(0).unwrap().gave_up = true;
        assert_eq!(log.push(delivery(3, true)), 3);
        let kept: Vec<&str> = log.entries.iter().map(|d| d.event_id.as_str()).collect();
        assert_eq!(kept, ["event-2", "event-3"]);
        assert!(log.get_mut(1).is_none(), "dropped");
        assert_eq!(log.get_mut(3).unwrap().event_id, "event-3");
        assert!(log.get_mut(4).is_none());
    }

    #[tokio::test]
    async fn without_a_url_events_are_kept_as_given_up_and_settle_at_once() {
        let (_stop, shutdown) = watch::channel(false);
        let webhooks = Arc::new(Webhooks::new(None, 10, shutdown));
        let event = uqpay_issuing_raw::types::WebhookEvent {
            version: "V1.6.0".into(),
            event_name: "ISSUING".into(),
            event_type: "card.create.succeeded".into(),
            event_id: "e".into(),
            source_id: "o".into(),
            data: None,
        };
        webhooks.publish(vec![Published {
            event,
            card_id: "c".into(),
        }]);
        webhooks.settled().await;
        let deliveries = webhooks.deliveries();
        assert_eq!(deliveries.len(), 1);
        assert!(deliveries[0].gave_up && !deliveries[0].delivered);
        assert_eq!(deliveries[0].attempts, 0);
        let body: serde_json::Value = serde_json::from_slice(&deliveries[0].body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "version": "V1.6.0", "event_name": "ISSUING", "event_type": "card.create.succeeded",
                "event_id": "e", "source_id": "o"
            })
        );
    }
}
