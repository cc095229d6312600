//! `overhead_rounds`: the SDK's overhead as users see it, measured with the
//! two sides interleaved batch by batch so that the host's drift (this is a
//! shared VM) hits both sides alike. Full `update_card` calls through `uqpay_issuing`
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
//!
//! A round is 100 calls one at a time, 16 batches of 64 and 4 of 256 on each
//! side, the sides' batches interleaved (SDK, hand-written, SDK, ...; which
//! goes first alternating), each batch timed on its own: the host's speed
//! moves within milliseconds, and whole runs of one side (the previous
//! design: 100 calls of one side, then 100 of the other) left per-round
//! ratios with quartiles at 0.82 and 1.14 with the same code on both sides,
//! where interleaving leaves 0.95 and 1.05. The 40 rounds are spread over 5
//! sessions, each with its own server and both clients built again (which
//! first alternating), so that what one pair of connections and heap
//! layouts happens to favour is not taken for the SDK's cost.
//! `--aa` puts a second hand-written client in the SDK's place: the figures
//! it prints are the benchmark's own noise, which should read 1.000;
//! `--spread` also prints the per-round ratios' quartiles (standard error).
//! Pass them after `--`: `cargo bench ... --bench overhead_rounds -- --aa`.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::future::join_all;
use uqpay_e2e::{
    hand_written_client, hand_written_full_update, sdk_full_update, start_fixed_200_server, TOKEN,
};
use uqpay_issuing::Client;
use uuid::Uuid;

const CARD: Uuid = Uuid::from_u128(0xc0ce_f051_29c5_4796_b86a_cd5b_684b_fad7);
/// Sessions per runtime and server placement, each with a server and
/// clients of its own.
const SESSIONS: usize = 5;
/// Rounds per session: short ones, each side in turn, so that the host's
/// drift (a shared VM) hits both sides of a round alike; the figure is the
/// median of the per-round ratios of all the sessions' rounds (40).
const ROUNDS: usize = 8;

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values
}

fn median(values: Vec<f64>) -> f64 {
    let values = sorted(values);
    values[values.len() / 2]
}

/// Makes `batches` batches, untimed (connections, allocator, caches).
async fn warm_up<F, Fut>(batches: usize, batch: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..batches {
        batch().await;
    }
}

/// One round of a case: each side's time per call over `batches` batches
/// of `width` calls, the two sides' batches interleaved (one of the SDK's,
/// one of the hand-written's, and so on, the side that goes first
/// alternating), so that the host's drift, which on a shared VM moves
/// within milliseconds, hits both sides alike.
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
    let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
    for batch in 0..batches {
        if (round + batch).is_multiple_of(2) {
            a += timed(&sdk).await;
            b += timed(&raw).await;
        } else {
            b += timed(&raw).await;
            a += timed(&sdk).await;
        }
    }
    let micros_a_call = |d: Duration| d.as_secs_f64() * 1e6 / (batches * width) as f64;
    (micros_a_call(a), micros_a_call(b))
}

/// How long one batch takes.
async fn timed<F, Fut>(batch: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    batch().await;
    started.elapsed()
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

    /// Its row of the table: medians over the rounds; with `spread`, the
    /// per-round ratios' quartiles and extremes too (on standard error).
    fn print(self, spread: bool, server: &str, flavor: &str, case: &str, ratio: &str) {
        if spread {
            let r = sorted(self.ratio.clone());
            let n = r.len();
            eprintln!(
                "{server}, {flavor}, {case}: per-round ratios min {:.3} q1 {:.3} median {:.3} q3 {:.3} max {:.3}",
                r[0],
                r[n / 4],
                r[n / 2],
                r[3 * n / 4],
                r[n - 1]
            );
        }
        println!(
            "| {server} | {flavor} | {case} | {:.1} | {:.1} | {ratio} = {:.3} |",
            median(self.sdk),
            median(self.hand),
            median(self.ratio)
        );
    }
}

/// The three cases of a runtime and server placement.
#[derive(Default)]
struct Cases {
    one: Case,
    many64: Case,
    many256: Case,
}

/// One side of the comparison: a full `update_card`.
trait Side {
    fn call(&self) -> impl Future<Output = ()>;
}

/// Through the SDK.
struct Sdk(Client);

impl Side for Sdk {
    fn call(&self) -> impl Future<Output = ()> {
        sdk_full_update(&self.0, CARD)
    }
}

/// By hand with reqwest.
struct Hand {
    http: reqwest::Client,
    base_url: String,
}

impl Hand {
    fn new(base_url: &str) -> Self {
        Self {
            http: hand_written_client(),
            base_url: base_url.to_owned(),
        }
    }
}

impl Side for Hand {
    fn call(&self) -> impl Future<Output = ()> {
        hand_written_full_update(&self.http, &self.base_url, CARD)
    }
}

/// `width` calls at once.
async fn many<S: Side>(side: &S, width: usize) {
    join_all((0..width).map(|_| side.call())).await;
}

/// Session `n`: both sides built (which first alternates with the
/// session), warmed up (connections, allocator, caches), then its rounds
/// (which side goes first alternates over all the rounds).
async fn session<S: Side, H: Side>(
    n: usize,
    sdk: impl FnOnce() -> S,
    hand: impl FnOnce() -> H,
    cases: &mut Cases,
) {
    let (sdk, hand) = if n.is_multiple_of(2) {
        let sdk = sdk();
        (sdk, hand())
    } else {
        let hand = hand();
        (sdk(), hand)
    };
    let (sdk, hand) = (&sdk, &hand);
    let first = n * ROUNDS;
    warm_up(200, || sdk.call()).await;
    warm_up(200, || hand.call()).await;
    warm_up(10, || many(sdk, 64)).await;
    warm_up(10, || many(hand, 64)).await;
    warm_up(2, || many(sdk, 256)).await;
    warm_up(2, || many(hand, 256)).await;
    for round in first..first + ROUNDS {
        let (a, b) = round_of(round, 100, 1, || sdk.call(), || hand.call()).await;
        cases.one.push(a, b, a / b);
        let (a, b) = round_of(round, 16, 64, || many(sdk, 64), || many(hand, 64)).await;
        cases.many64.push(a, b, b / a);
        let (a, b) = round_of(round, 4, 256, || many(sdk, 256), || many(hand, 256)).await;
        cases.many256.push(a, b, b / a);
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

/// Where the server of a session runs; dropping it stops the server.
#[allow(dead_code)] // held for its drop
enum Server {
    OwnProcess(ServerProcess),
    ThreadBeside(tokio::runtime::Runtime),
}

impl Server {
    fn start(own_process: bool) -> (Self, String) {
        if own_process {
            let (process, url) = ServerProcess::start();
            (Server::OwnProcess(process), url)
        } else {
            let (url, runtime) = start_fixed_200_server();
            (Server::ThreadBeside(runtime), url)
        }
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
    let aa = args.iter().any(|a| a == "--aa");
    let spread = args.iter().any(|a| a == "--spread");
    if aa {
        println!("A/A: a second hand-written client in the SDK's place (the benchmark's noise)");
    }
    println!(
        "| server | runtime | case | SDK µs/call | hand-written µs/call | ratio (median of rounds) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (own_process, server) in [(true, "own process"), (false, "thread beside")] {
        for flavor in ["current_thread", "multi_thread"] {
            let mut cases = Cases::default();
            for n in 0..SESSIONS {
                let (_server, url) = Server::start(own_process);
                let rt = match flavor {
                    "current_thread" => tokio::runtime::Builder::new_current_thread(),
                    _ => tokio::runtime::Builder::new_multi_thread(),
                }
                .enable_all()
                .build()
                .unwrap();
                rt.block_on(async {
                    let sdk = || {
                        Sdk(Client::builder()
                            .token(TOKEN)
                            .base_url(&url)
                            .timeout(Duration::from_secs(30))
                            .build()
                            .unwrap())
                    };
                    if aa {
                        session(n, || Hand::new(&url), || Hand::new(&url), &mut cases).await;
                    } else {
                        session(n, sdk, || Hand::new(&url), &mut cases).await;
                    }
                });
            }
            let Cases {
                one,
                many64,
                many256,
            } = cases;
            one.print(spread, server, flavor, "one call", "SDK / hand-written");
            many64.print(
                spread,
                server,
                flavor,
                "64 at once",
                "SDK throughput / hand-written",
            );
            many256.print(
                spread,
                server,
                flavor,
                "256 at once",
                "SDK throughput / hand-written",
            );
        }
    }
}
