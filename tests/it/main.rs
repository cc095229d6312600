//! The workspace's end-to-end tests: uqpay-issuing against uqpay-mock (and
//! against scripted servers, proxies and Redis) over real sockets, in one
//! test binary, one module per behaviour:
//!
//! | module | what it covers |
//! | --- | --- |
//! | `calls` | the happy paths: each operation and what the simulator stored, on-behalf-of accounts, Retrieve Card, the exact wire format |
//! | `validation` | every rule refused before the wire at its boundaries; `validation::agreement`: property tests that client and simulator agree |
//! | `retries` | one commit per call through every fault, exhausted retries, `Retry-After`, backoff, attempts counted, the retry budget |
//! | `errors` | UQPay's error shapes mapped to kinds, codes and helpers; card rules as final 400s |
//! | `idempotency` | a caller's key replays, one key and body on every attempt, idempotency errors final, 64 concurrent calls with one key |
//! | `tokens` | fetching, caching, refreshing and renewing access tokens; failed fetches; clocks; the mint task |
//! | `deadlines` | the deadline and the per-call and per-attempt timeouts, whatever `configure_http` sets |
//! | `rate_limits` | the rate limit kept by one process, a 429 slowing it, cancelled waiters giving slots back |
//! | `fleet` | replicas sharing one token and one rate limit through Redis (`fleet::{tokens, redis_store, rate_limit}`) |
//! | `transport` | egress proxies (CONNECT, 407), a private CA, what `configure_http` cannot undo |
//! | `secrets` | no token, key or card number in tracing, `Debug` or errors; redirects keep the token home |
//! | `malformed` | bad bytes both ways: raw garbage to the simulator, undecodable answers to the client |
//! | `webhooks` | orders' signed events delivered through a flaky receiver, each processed once |
//!
//! `support` holds what several modules share, among it the lock of
//! the tests that depend on wall-clock time (`support::timed`, `paced`):
//! they keep apart from each other while the others run in parallel. (What benchmarks and binaries
//! share too is in the package's lib, `uqpay_e2e`.) The soak under faults is
//! a binary of its own (`tests/soak.rs`).
//!
//! The fleet tests start `redis-server` (Debian: `apt-get install
//! redis-server`). One module, or one test:
//!
//! ```sh
//! cargo test -p uqpay-e2e --test it fleet::
//! cargo test -p uqpay-e2e --test it retries::retry_after_is_honoured
//! ```

mod calls;
mod deadlines;
mod errors;
mod fleet;
mod idempotency;
mod malformed;
mod rate_limits;
mod retries;
mod secrets;
mod support;
mod tokens;
mod transport;
mod validation;
mod webhooks;
