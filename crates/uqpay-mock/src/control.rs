//! What tests steer besides the state: card requests held in flight
//! ([`Hold`]), and connections closed without an answer
//! ([`ConnectionKill`], for the connection-dropping faults).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::response::Response;
use tokio::sync::{watch, Notify};

/// A gate that holds card requests after they are marked in flight and
/// before they are processed, so that tests can observe "in flight"
/// deterministically.
#[derive(Debug)]
pub(crate) struct Hold {
    closed: watch::Sender<bool>,
    held: AtomicUsize,
    changed: Notify,
}

impl Hold {
    /// An open gate.
    pub(crate) fn new() -> Self {
        Self {
            closed: watch::channel(false).0,
            held: AtomicUsize::new(0),
            changed: Notify::new(),
        }
    }

    /// From now on, requests wait at the gate.
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Lets the waiting requests (and every later one) through.
    pub(crate) fn open(&self) {
        self.closed.send_replace(false);
    }

    /// How many requests wait at the gate.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Waits until the number of held requests satisfies `done`.
    pub(crate) async fn wait_until(&self, done: impl Fn(usize) -> bool) {
        loop {
            let notified = self.changed.notified();
            if done(self.held()) {
                return;
            }
            notified.await;
        }
    }

    /// Passes the gate: at once when it is open, else when it opens.
    pub(crate) async fn pass(&self) {
        let mut rx = self.closed.subscribe();
        if !*rx.borrow_and_update() {
            return;
        }
        /// Counts the request out however it leaves (released, or dropped
        /// because its client went away).
        struct Held<'a>(&'a Hold);
        impl Drop for Held<'_> {
            fn drop(&mut self) {
                self.0.held.fetch_sub(1, Ordering::SeqCst);
                self.0.changed.notify_waiters();
            }
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        let _held = Held(self);
        self.changed.notify_waiters();
        let _ = rx.wait_for(|closed| !closed).await;
    }
}

/// Closes the connection the request came on (set per connection by the server).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionKill(pub(crate) Arc<Notify>);

impl ConnectionKill {
    /// Closes the connection, then never returns: the response is never written.
    pub(crate) async fn drop_connection(&self) -> Response {
        self.0.notify_one();
        std::future::pending::<Response>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_open_gate_lets_requests_through_at_once() {
        let hold = Hold::new();
        hold.pass().await;
        assert_eq!(hold.held(), 0);
        hold.wait_until(|held| held == 0).await;
    }

    #[tokio::test]
    async fn a_closed_gate_holds_requests_until_it_opens_or_they_go_away() {
        let hold = Arc::new(Hold::new());
        hold.close();
        let first = tokio::spawn({
            let hold = hold.clone();
            async move { hold.pass().await }
        });
        let second = tokio::spawn({
            let hold = hold.clone();
            async move { hold.pass().await }
        });
        hold.wait_until(|held| held == 2).await;
        assert!(!first.is_finished() && !second.is_finished());
        // One goes away while held: it is counted out.
        second.abort();
        assert!(second.await.unwrap_err().is_cancelled());
        hold.wait_until(|held| held == 1).await;
        hold.open();
        first.await.unwrap();
        assert_eq!(hold.held(), 0);
    }

    #[tokio::test]
    async fn killing_a_connection_signals_it_and_never_answers() {
        let kill = ConnectionKill(Arc::new(Notify::new()));
        let answer = tokio::spawn({
            let kill = kill.clone();
            async move { kill.drop_connection().await }
        });
        // The signal is kept for the connection's task even if it is not
        // waiting yet.
        kill.0.notified().await;
        assert!(!answer.is_finished());
        answer.abort();
        assert!(answer.await.unwrap_err().is_cancelled());
    }
}
