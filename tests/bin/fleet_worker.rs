//! One replica of the fleet test, as an OS process of its own: a client on
//! the given credentials with a `RedisTokenStore`, making paced Update Card
//! calls against the simulator; prints its `FleetReport` as one JSON line.
//!
//! ```sh
//! fleet-worker BASE_URL REDIS_URL CLIENT_ID API_KEY CARD_SEQ CALLS PACE_MS
//! ```

use std::time::Duration;

use uqpay_issuing::{Client, RedisTokenStore};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, redis_url, client_id, api_key, seq, calls, pace] = &args[..] else {
        eprintln!(
            "usage: fleet-worker BASE_URL REDIS_URL CLIENT_ID API_KEY CARD_SEQ CALLS PACE_MS"
        );
        std::process::exit(2);
    };
    let client = Client::builder()
        .credentials(client_id, api_key)
        .token_store(RedisTokenStore::new(redis_url).expect("a Redis URL"))
        .base_url(base_url)
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(50))
        .retry_jitter(Duration::from_millis(5))
        .max_retries(5)
        .build()
        .expect("a client");
    let report = uqpay_e2e::replica(
        client,
        seq.parse().expect("a number"),
        calls.parse().expect("a number"),
        Duration::from_millis(pace.parse().expect("a number")),
    )
    .await;
    println!("{}", serde_json::to_string(&report).unwrap());
}
