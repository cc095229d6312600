//! The options of a call and how they layer: the client's defaults
//! ([`Defaults`], set on the [`ClientBuilder`](crate::ClientBuilder)) and
//! what one call overrides ([`Overrides`], set on its request builder). A
//! call's value wins over the client's for each option it sets.

use std::time::Duration;

use crate::retry::policy::RetryPolicy;

/// The client's settings for every call.
#[derive(Clone, Debug)]
pub(crate) struct Defaults {
    pub(crate) policy: RetryPolicy,
    /// The time limit of one attempt (the HTTP client's own timeout).
    pub(crate) timeout: Duration,
    /// The time limit of a whole call (retries and waits included).
    pub(crate) deadline: Option<Duration>,
    /// The default `x-on-behalf-of`.
    pub(crate) on_behalf_of: Option<uqpay_issuing_raw::types::AccountId>,
}

/// What one call overrides (set on its builder).
#[derive(Clone, Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) deadline: Option<Duration>,
}
