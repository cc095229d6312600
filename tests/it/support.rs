//! What the modules of this binary share: the lock of the tests that
//! depend on wall-clock time, and the requests, answers and measures more
//! than one module uses. (What benchmarks and binaries share too is in the
//! package's lib, `uqpay_e2e`.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use uqpay_e2e::{assign_request, fast_builder, Canned, FixedServer, Script, ScriptedServer};
use uqpay_e2e::{client_of, UPDATE_CARD_RESPONSE};
use uqpay_issuing::{CardMode, CardStatus, Client, ClientBuilder, Error, RateLimit};
use uqpay_issuing::{UpdateCardResponse, UpdateCardStatusResponse};
use uuid::Uuid;

/// The one lock of the tests whose outcome depends on wall-clock time (a
/// bound on how long something took, a throughput, a window a call must
/// act within, a run of paced fleet calls), and of those that load the
/// machine for them (the `secrets` tests, whose capture formats everything
/// at TRACE while it records). libtest runs the tests of a binary in
/// parallel; before this binary gathered them, such tests were kept apart
/// by being in separate binaries (or by a lock of their file's).
///
/// Take it with [`timed`] (alone: no other test holding the lock runs
/// meanwhile) or, for the paced fleet runs only, [`paced`] (beside other
/// paced runs, never beside a `timed` test): those runs sleep most of their
/// time, ran two at a time in the fleet's binary before, and their bounds
/// are counted in renewal windows of the run's own length. The lock is
/// fair: a waiting `timed` test holds back the `paced` ones behind it.
static TIMED: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Waits until no other test holding [`TIMED`] runs, and keeps it so.
pub async fn timed() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    TIMED.write().await
}

/// Waits until no [`timed`] test runs, and keeps it so (other paced ones
/// may run).
pub async fn paced() -> tokio::sync::RwLockReadGuard<'static, ()> {
    TIMED.read().await
}

/// The credentials of [`minting_client`].
pub const MINTING_ID: &str = "client-h";
const MINTING_KEY: &str = "key-h";

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `status` with the JSON `body`, as a script's answer.
pub fn answer(status: u16, body: &str) -> Script {
    Script::Answer(Canned::json(status, body))
}

/// A token endpoint's answer: `token`, expiring at `expired_at` (Unix s).
pub fn token_answer(token: &str, expired_at: u64) -> Canned {
    Canned::json(
        200,
        &format!(r#"{{"auth_token":"{token}","expired_at":{expired_at}}}"#),
    )
}

/// A card endpoint's 200 (UQPay's Update Card example).
pub fn card_ok() -> Script {
    answer(200, UPDATE_CARD_RESPONSE)
}

/// A client builder with credentials ([`MINTING_ID`]) and fast retries, of
/// a scripted server.
pub fn minting_client(server: &ScriptedServer) -> ClientBuilder {
    fast_builder(&server.base_url()).credentials(MINTING_ID, MINTING_KEY)
}

/// A server whose token endpoint answers the n-th token request (0-based)
/// as `token(n)` says and whose card endpoints answer 200; with the count
/// of token requests.
pub async fn token_server(
    token: impl Fn(usize) -> Script + Send + Sync + 'static,
) -> (ScriptedServer, Arc<AtomicUsize>) {
    let minted = Arc::new(AtomicUsize::new(0));
    let counter = minted.clone();
    let server = ScriptedServer::start(move |seen| {
        if seen.is_token_request() {
            token(counter.fetch_add(1, Ordering::SeqCst))
        } else {
            card_ok()
        }
    })
    .await;
    (server, minted)
}

/// A minimal Update Card (a name) of a card nobody assigned.
pub async fn update(client: &Client) -> Result<UpdateCardResponse, Error> {
    client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .send()
        .await
}

/// Assigns the USD card `number` in `mode` to a new cardholder; its id.
pub async fn assign(client: &Client, number: &str, mode: CardMode) -> Uuid {
    assign_request(client, number, mode)
        .send()
        .await
        .expect("assign")
        .card_id
}

/// Freezes `card` with the idempotency key `key`, on a task of its own.
pub fn spawn_freeze(
    client: &Client,
    card: Uuid,
    key: Uuid,
) -> tokio::task::JoinHandle<Result<UpdateCardStatusResponse, Error>> {
    let client = client.clone();
    tokio::spawn(async move {
        client
            .update_card_status(card)
            .card_status(CardStatus::Frozen)
            .idempotency_key(key)
            .send()
            .await
    })
}

/// Sends a minimal Update Card to a server that answers `canned`.
pub async fn answer_with(
    canned: Canned,
    max_retries: u32,
) -> (FixedServer, Result<UpdateCardResponse, Error>) {
    let server = FixedServer::start(canned).await;
    let client = client_of(&server.base_url(), max_retries);
    let result = update(&client).await;
    (server, result)
}

/// Runs `calls` minimal Update Cards on `tasks` tasks at once; their
/// results.
pub async fn burst(
    client: &Client,
    calls: usize,
    tasks: usize,
) -> Vec<Result<UpdateCardResponse, Error>> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            tokio::spawn(async move {
                let mut results = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < calls {
                    results.push(update(&client).await);
                }
                results
            })
        })
        .collect();
    let mut results = Vec::new();
    for worker in workers {
        results.extend(worker.await.unwrap());
    }
    results
}

/// The end of a test of waiters cancelled while a rate limit of one window
/// a second held them: a window and a half later, a call to `card` goes
/// (within 5 s), however many waiters there were.
pub async fn a_fresh_call_goes(client: &Client, card: Uuid) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fresh = client
        .update_card(card)
        .name_on_card("X")
        .deadline(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        fresh.is_ok(),
        "the cancelled waiters held the slots: {fresh:?}"
    );
}

// ---------------------------------------------------------------------------
// Time bounds of a rate limit
//
// A run of `N` calls under a limit of `n` per window `w` cannot end before
// `(N / n - 1) * w` (the first burst goes at once, each later one waits a
// window). What the limit allows is that, plus the time the last burst
// takes to run, which is the client's speed, not the limit's: measured in
// the same run as the time the first `n` calls (a burst the limiter does
// not slow) took to complete. The run must end within 10 % of that (the
// client keeps a margin of a fiftieth of the window, at least 20 ms, per
// window).

/// The shortest a run of `calls` may take under `limit`.
pub fn floor_time(calls: u32, limit: RateLimit) -> Duration {
    limit.per() * (calls.div_ceil(limit.requests()) - 1)
}

/// What `limit` allows for a run whose calls completed at `done` (from its
/// start): the floor, plus what the first burst took (the client's speed).
/// The run's length, the burst's and the allowed time.
pub fn allowed(limit: RateLimit, mut done: Vec<Duration>) -> (Duration, Duration, Duration) {
    done.sort();
    let took = *done.last().unwrap();
    let burst = done[limit.requests() as usize - 1];
    (took, burst, floor_time(done.len() as u32, limit) + burst)
}
