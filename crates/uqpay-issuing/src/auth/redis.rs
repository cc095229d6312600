//! The fleet's token and rate limit, kept in Redis (feature `redis`):
//! [`store`] (the [`RedisTokenStore`](store::RedisTokenStore) a client is
//! given, and how each call reads it), [`mint`] (one mint at a time across
//! the fleet, under a lock), [`fleet`] (the rate limit shared by every
//! replica, taken in the same round trip as the token read), [`entry`] (what
//! is stored under which key), [`scripts`] (the Lua scripts that make each
//! step atomic) and [`connection`] (the connection and the time limit of
//! each command).

pub(crate) mod connection;
pub(crate) mod entry;
pub(crate) mod fleet;
pub(crate) mod mint;
pub(crate) mod scripts;
pub(crate) mod store;
