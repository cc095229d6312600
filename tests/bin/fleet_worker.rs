//! One replica of the fleet test, as an OS process of its own: a client on
//! the given credentials with a `RedisTokenStore`, making paced Update Card
//! calls against the simulator; prints its `FleetReport` as one JSON line.
//!
//! ```sh
//! fleet-worker BASE_URL REDIS_URL CLIENT_ID API_KEY CARD_SEQ CALLS PACE_MS
//! ```

use std::time::Duration;

use uqpay_issuing::RedisTokenStore;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, redis_url, client_id, api_key, seq, calls, pace] = &args[..] else {
        eprintln!(
            "usage: fleet-worker BASE_URL REDIS_URL CLIENT_ID API_KEY CARD_SEQ CALLS PACE_MS"
        );
        std::process::exit(2);
    };
    let store = RedisTokenStore::new(redis_url).expect("a Redis URL");
    let client = uqpay_e2e::replica_client(base_url, client_id, api_key, store);
    let report = uqpay_e2e::replica(
        client,
        seq.parse().expect("a number"),
        calls.parse().expect("a number"),
        Duration::from_millis(pace.parse().expect("a number")),
    )
    .await;
    println!("{}", serde_json::to_string(&report).unwrap());
}
