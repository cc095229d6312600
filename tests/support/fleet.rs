//! A fleet of replicas on one set of credentials: a replica's client and
//! calls, and the report of what they came to (also printed as JSON by the
//! `fleet-worker` binary, one OS process per replica).

use std::time::Duration;

use uqpay_issuing::Client;

use crate::clients::{assign_share_card, fast_builder};

/// What the calls of one or more replicas came to.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FleetReport {
    /// Calls made.
    pub calls: usize,
    /// Calls that succeeded.
    pub ok: usize,
    /// Failed calls by kind of error (`Display` of the variant, shortened).
    pub failures: std::collections::BTreeMap<String, usize>,
    /// Latency of each call, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl FleetReport {
    /// Adds `other`'s calls to these.
    pub fn merge(&mut self, other: FleetReport) {
        self.calls += other.calls;
        self.ok += other.ok;
        for (kind, n) in other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
        self.latencies_us.extend(other.latencies_us);
    }

    /// Failed calls.
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }

    /// The `q`-quantile (0..=1) of the latencies, in microseconds.
    pub fn quantile_us(&self, q: f64) -> u64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0;
        }
        let index = ((sorted.len() - 1) as f64 * q).round() as usize;
        sorted[index]
    }
}

/// The kind of an error, for counting.
pub fn error_kind(error: &uqpay_issuing::Error) -> String {
    use uqpay_issuing::Error;
    match error {
        Error::RetriesExhausted { last, .. } => format!("exhausted: {}", error_kind(last)),
        Error::Token { source, .. } => format!("token: {}", error_kind(source)),
        Error::TokenStore { .. } => "token store".into(),
        Error::Unauthorized { .. } => "unauthorized".into(),
        Error::Api { status, .. } => format!("api {status}"),
        Error::Timeout { .. } => "timeout".into(),
        Error::Network { .. } => "network".into(),
        other => format!("{other}"),
    }
}

/// A fleet replica's client of `base_url`: its own `store`, the shared
/// credentials, five retries 5 to 50 ms apart with 5 ms of jitter.
pub fn replica_client(
    base_url: &str,
    client_id: &str,
    api_key: &str,
    store: impl uqpay_issuing::TokenStore,
) -> Client {
    fast_builder(base_url)
        .credentials(client_id, api_key)
        .token_store(store)
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(50))
        .retry_jitter(Duration::from_millis(5))
        .max_retries(5)
        .build()
        .unwrap()
}

/// One replica: assigns a card (number `pan(n)`), then makes `calls`
/// Update Card calls on it, one after the other, `pace` apart.
pub async fn replica(client: Client, n: u64, calls: usize, pace: Duration) -> FleetReport {
    let mut report = FleetReport::default();
    let card = loop {
        match assign_share_card(&client, n).await {
            Ok(card) => break card,
            Err(error) => {
                *report
                    .failures
                    .entry(format!("assign: {}", error_kind(&error)))
                    .or_default() += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    for i in 0..calls {
        let started = std::time::Instant::now();
        let result = client
            .update_card(card)
            .name_on_card(format!("REPLICA {n} CALL {i}"))
            .send()
            .await;
        report.calls += 1;
        report
            .latencies_us
            .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        match result {
            Ok(_) => report.ok += 1,
            Err(error) => *report.failures.entry(error_kind(&error)).or_default() += 1,
        }
        tokio::time::sleep(pace).await;
    }
    report
}
