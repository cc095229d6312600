//! A fleet of replicas on one set of credentials, each test with a
//! `redis-server` of its own (Debian's `redis-server` must be installed):
//!
//! - `tokens`: the replicas share one token through `RedisTokenStore`
//!   (tasks and OS processes), beside the thrash of in-process stores,
//!   under both readings of UQPay's docs; Redis going away and coming back.
//! - `redis_store`: the store's hard cases: a call cut while it mints, a
//!   slow renewal, an unreadable entry, a lock shorter than the mint, a
//!   Redis that stops answering.
//! - `rate_limit`: UQPay's rate limit kept by the fleet through Redis, and
//!   by each replica's share while Redis is out of reach.
//! - `cluster`: the same fleet on a Redis Cluster of the test's own (six
//!   nodes): one mint, one limit, masters killed in turn, a slot moved,
//!   what the cluster refuses.
//!
//! The runs measure time: under the lock of `support` (`timed` for the
//! rate limit's, `paced` for the others, which may run two at a time).

mod cluster;
mod rate_limit;
mod redis_store;
mod tokens;
