//! Runs `update_card` calls through the SDK (`sdk`) or by hand with reqwest
//! (`raw`) against the minimal loopback server, one at a time or, with the
//! `64` suffix (`sdk64`, `raw64`), in batches of 64 concurrent calls: a
//! target for profilers (`perf record`, `valgrind --tool=callgrind`).
//!
//! ```sh
//! cargo run --release -p uqpay-e2e --example overhead_profile -- sdk64 64000
//! cargo run --release -p uqpay-e2e --example overhead_profile -- mt-sdk64 64000   # multi-thread runtime
//! ```

use std::time::{Duration, Instant};

use uqpay_e2e::{
    hand_written_client, hand_written_full_update, sdk_full_update, start_fixed_200_server, TOKEN,
};
use uqpay_issuing::Client;
use uuid::Uuid;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "sdk".into());
    if mode == "sizes" {
        // The futures a call keeps in flight (64 at once: 64 of each).
        let client = Client::builder()
            .token(TOKEN)
            .base_url("http://127.0.0.1:9/api")
            .build()
            .unwrap();
        let hand = hand_written_client();
        println!(
            "future sizes: SDK full update_card {} B, hand-written {} B, raw update_card {} B",
            std::mem::size_of_val(&sdk_full_update(&client, Uuid::nil())),
            std::mem::size_of_val(&hand_written_full_update(
                &hand,
                "http://127.0.0.1:9/api",
                Uuid::nil()
            )),
            std::mem::size_of_val(&client.raw().update_card(
                &Uuid::nil(),
                &Uuid::nil(),
                None,
                &Default::default()
            )),
        );
        return;
    }
    let n: u32 = args.next().map_or(10_000, |n| n.parse().unwrap());
    let (base_url, _server) = start_fixed_200_server();
    // `mt-` first: the default multi-thread runtime instead of a current-thread one.
    let (multi, mode) = match mode.strip_prefix("mt-") {
        Some(rest) => (true, rest.to_owned()),
        None => (false, mode),
    };
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()
    .unwrap();
    let card = Uuid::new_v4();
    let (batch, sdk_mode) = match mode.strip_suffix("64") {
        Some(kind) => (64, kind == "sdk"),
        None => (1, mode == "sdk"),
    };
    let elapsed = rt.block_on(async {
        let sdk = Client::builder()
            .token(TOKEN)
            .base_url(&base_url)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let raw = hand_written_client();
        let started = Instant::now();
        // Two loops, not one over a future of either kind: each side's
        // futures have their own size, as in overhead_rounds.
        if sdk_mode {
            for _ in 0..n / batch {
                futures::future::join_all((0..batch).map(|_| sdk_full_update(&sdk, card))).await;
            }
        } else {
            for _ in 0..n / batch {
                let calls = (0..batch).map(|_| hand_written_full_update(&raw, &base_url, card));
                futures::future::join_all(calls).await;
            }
        }
        started.elapsed()
    });
    println!(
        "{mode}: {n} calls, {:.2} µs per call",
        elapsed.as_secs_f64() * 1e6 / f64::from(n)
    );
}
