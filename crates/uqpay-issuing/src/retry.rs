//! When a failed attempt is sent again: the [`policy`] (how many retries,
//! the backoff between them, what a `Retry-After` may ask) and the
//! [`budget`] (a token bucket that caps a client's retries while the
//! service is failing). Which errors are retryable is
//! [`Error::is_retryable`](crate::Error::is_retryable); the loop that applies
//! all three is the call's.

pub(crate) mod budget;
pub(crate) mod policy;
