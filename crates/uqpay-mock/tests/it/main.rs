//! The simulator driven by a plain HTTP client over real sockets, one
//! behaviour per module; what they share is in `support`.

mod accounts;
mod cards;
mod cli;
mod clock;
mod faults;
mod idempotency;
mod orders;
mod rate_limits;
mod support;
mod tokens;
mod validation;
mod webhooks;
