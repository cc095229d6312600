//! `overhead_rounds`: the SDK's overhead as users see it, measured in
//! alternating rounds so that the host's drift (this is a shared VM) hits
//! both sides alike. Full `update_card` calls through `uqpay_issuing`
//! versus the same request by hand with reqwest + serde_json (same 30 s
//! timeout, no redirects, TCP_NODELAY), against a minimal loopback server,
//! on warm connections: one call at a time, 64 and 256 at once (a service
//! under load), on a current-thread runtime and on the default
//! multi-thread runtime (`#[tokio::main]`'s). The server runs in a process
//! of its own (this binary started again with `--serve`), as in
//! production, so that every instruction of the client shows on the two
//! cores; then, for comparison, on a runtime thread beside the client.
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench overhead_rounds
//! ```
//!
//! Prints, per case, the median time per call over the rounds for each side
//! and the median of the per-round ratios (SDK / hand-written time; for 64
//! at once, hand-written / SDK is the SDK's share of hand-written
//! throughput).

use std::future::Future;
use std::time::{Duration, Instant};

use futures::future::join_all;
use uqpay_e2e::{
    hand_written_client, hand_written_full_update, sdk_full_update, start_fixed_200_server, TOKEN,
};
use uqpay_issuing::Client;
use uuid::Uuid;

const CARD: Uuid = Uuid::from_u128(0xc0ce_f051_29c5_4796_b86a_cd5b_684b_fad7);
/// Rounds of each case: short ones, each side in turn, so that the host's
/// drift (a shared VM) hits both sides of a round alike; the figure is the
/// median of the per-round ratios.
const ROUNDS: usize = 40;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Time per call of `calls` calls made by `batch` (each batch `width` calls).
async fn per_call<F, Fut>(batches: usize, width: usize, batch: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    for _ in 0..batches {
        batch().await;
    }
    started.elapsed().as_secs_f64() * 1e6 / (batches * width) as f64
}

/// One round of a case: each side's time per call, the side that goes
/// first alternating with the round.
async fn round_of<S, SF, R, RF>(
    round: usize,
    batches: usize,
    width: usize,
    sdk: S,
    raw: R,
) -> (f64, f64)
where
    S: Fn() -> SF,
    SF: Future<Output = ()>,
    R: Fn() -> RF,
    RF: Future<Output = ()>,
{
    if round.is_multiple_of(2) {
        let a = per_call(batches, width, &sdk).await;
        (a, per_call(batches, width, &raw).await)
    } else {
        let b = per_call(batches, width, &raw).await;
        (per_call(batches, width, &sdk).await, b)
    }
}

/// A case's figures over the rounds: each side's time per call, and the
/// per-round ratio.
#[derive(Default)]
struct Case {
    sdk: Vec<f64>,
    hand: Vec<f64>,
    ratio: Vec<f64>,
}

impl Case {
    fn push(&mut self, sdk: f64, hand: f64, ratio: f64) {
        self.sdk.push(sdk);
        self.hand.push(hand);
        self.ratio.push(ratio);
    }

    /// Its row of the table: medians over the rounds.
    fn print(self, server: &str, flavor: &str, case: &str, ratio: &str) {
        println!(
            "| {server} | {flavor} | {case} | {:.1} | {:.1} | {ratio} = {:.3} |",
            median(self.sdk),
            median(self.hand),
            median(self.ratio)
        );
    }
}

/// The server in a process of its own: this binary with `--serve`, which
/// prints its base URL and serves until killed.
struct ServerProcess(std::process::Child);

impl ServerProcess {
    fn start() -> (Self, String) {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--serve")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines.next().unwrap().unwrap();
        (Self(child), url)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    if args.iter().any(|a| a == "--serve") {
        let (base_url, _server) = start_fixed_200_server();
        println!("{base_url}");
        loop {
            std::thread::park();
        }
    }
    println!(
        "| server | runtime | case | SDK µs/call | hand-written µs/call | ratio (median of rounds) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let (process, url) = ServerProcess::start();
    measure("own process", &url);
    drop(process);
    let (url, _server) = start_fixed_200_server();
    measure("thread beside", &url);
}

fn measure(server: &str, base_url: &str) {
    let base_url = base_url.to_owned();
    for flavor in ["current_thread", "multi_thread"] {
        let rt = match flavor {
            "current_thread" => tokio::runtime::Builder::new_current_thread(),
            _ => tokio::runtime::Builder::new_multi_thread(),
        }
        .enable_all()
        .build()
        .unwrap();
        rt.block_on(async {
            let sdk = Client::builder()
                .token(TOKEN)
                .base_url(&base_url)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let raw = hand_written_client();
            let sdk_one = || sdk_full_update(&sdk, CARD);
            let raw_one = || hand_written_full_update(&raw, &base_url, CARD);
            let sdk_many = |width: usize| {
                let sdk = &sdk;
                move || async move {
                    join_all((0..width).map(|_| sdk_full_update(sdk, CARD))).await;
                }
            };
            let raw_many = |width: usize| {
                let base_url = &base_url;
                let raw = &raw;
                move || async move {
                    join_all((0..width).map(|_| hand_written_full_update(raw, base_url, CARD)))
                        .await;
                }
            };
            // Warm up both (connections, allocator, caches).
            per_call(500, 1, sdk_one).await;
            per_call(500, 1, raw_one).await;
            per_call(20, 64, sdk_many(64)).await;
            per_call(20, 64, raw_many(64)).await;
            per_call(3, 256, sdk_many(256)).await;
            per_call(3, 256, raw_many(256)).await;

            let (mut one, mut many64, mut many256) =
                (Case::default(), Case::default(), Case::default());
            for round in 0..ROUNDS {
                let (a, b) = round_of(round, 100, 1, sdk_one, raw_one).await;
                one.push(a, b, a / b);
                let (a, b) = round_of(round, 4, 64, sdk_many(64), raw_many(64)).await;
                many64.push(a, b, b / a);
                let (a, b) = round_of(round, 1, 256, sdk_many(256), raw_many(256)).await;
                many256.push(a, b, b / a);
            }
            one.print(server, flavor, "one call", "SDK / hand-written");
            many64.print(
                server,
                flavor,
                "64 at once",
                "SDK throughput / hand-written",
            );
            many256.print(
                server,
                flavor,
                "256 at once",
                "SDK throughput / hand-written",
            );
        });
    }
}
