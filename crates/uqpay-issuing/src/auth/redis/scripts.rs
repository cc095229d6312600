//! The Lua scripts that make each step of the fleet's protocol one atomic
//! round trip.

use std::sync::LazyLock;

/// Takes the lock (`KEYS[2]`, owner `ARGV[1]`, `ARGV[2]` ms) if it is free,
/// and reads the token (`KEYS[1]`) in the same step: `{1, token or "",
/// 0.1.0 token or ""}`, or `{0, "", ""}` when another replica holds the
/// lock. On a single server `KEYS[3]` and `KEYS[4]` are the token and lock
/// keys of version 0.1.0: its lock counts as taken too, and its token is
/// read beside the current one.
pub(crate) static LOCK_AND_READ: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then return {0, '', ''} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local legacy = ''
  if KEYS[3] then legacy = redis.call('GET', KEYS[3]) or '' end
  return {1, redis.call('GET', KEYS[1]) or '', legacy}
end
return {0, '', ''}
",
    )
});

/// Extends the lock (`KEYS[1]`) by `ARGV[2]` ms if `ARGV[1]` still owns it.
pub(crate) static EXTEND: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           return redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
         end \
         return 0",
    )
});

/// Hands the lock (`KEYS[2]`, owner `ARGV[1]`) back, with the token entry
/// (`KEYS[1]` = `ARGV[2]`, generation `ARGV[6]`, expiring at `ARGV[3]` unix
/// ms) written first when `ARGV[2]` is not empty, or the failure (`KEYS[3]`
/// = `ARGV[4]`, for `ARGV[5]` ms) when `ARGV[4]` is not empty. On a single
/// server `KEYS[4]` is the 0.1.0 token key: the entry is written there too
/// (replicas still on 0.1.0 read it).
///
/// Only while the lock is still this mint's: a mint that lost its lock (it
/// expired while Redis could not be reached to extend it, or a failover
/// lost it) writes its entry only if the stored one is older (a lower
/// generation, or none, or one that cannot be read), so that it never
/// overwrites a token another replica minted under the lock since (which
/// voided this one). Returns 1 when the entry was written (or there was
/// none to write), 0 when a newer one was kept.
pub(crate) static HAND_BACK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local function generation(key)
  local stored = redis.call('GET', key)
  if not stored then return -1 end
  local ok, entry = pcall(cjson.decode, stored)
  if ok and type(entry) == 'table' and tonumber(entry.generation) then
    return tonumber(entry.generation)
  end
  return -1
end
local owner = redis.call('GET', KEYS[2]) == ARGV[1]
local written = 1
if ARGV[2] ~= '' then
  local write = owner
  if not owner then
    local newest = generation(KEYS[1])
    if KEYS[4] then newest = math.max(newest, generation(KEYS[4])) end
    write = newest < tonumber(ARGV[6])
  end
  if write then
    redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
    if KEYS[4] then redis.call('SET', KEYS[4], ARGV[2], 'PXAT', ARGV[3]) end
  else
    written = 0
  end
end
if ARGV[4] ~= '' and owner then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
if owner then redis.call('DEL', KEYS[2]) end
return written
",
    )
});

/// Takes a slot of the fleet's rate limit and reads the token, in one step
/// (one round trip per call for both).
///
/// A sliding window log per client id in a sorted set (`KEYS[4]`): the
/// start times, on Redis's clock, of the calls of the last window
/// (`ARGV[1]` ms). A call gets a slot when fewer than the cap (`ARGV[2]`)
/// started in the window, and is told how long to wait otherwise (until
/// the oldest of the last `cap` leaves it). Each replica (`ARGV[4]`) marks
/// itself in another sorted set (`KEYS[5]`) so that every answer says how
/// many replicas took slots in the last two windows: its share of the limit
/// if Redis becomes unreachable. Then the token, the lock and a recent
/// failure, as the store's read (`KEYS[1..3]`).
///
/// Returns `{wait ms (0: granted), replicas, token or "", locked 0/1,
/// failure or "", ms until the next slot frees after this grant (0: one is
/// free), 0.1.0 token or "", the calls the log held in the window before
/// this one}`. On a single server `KEYS[6]` and `KEYS[7]`
/// are the token and lock keys of version 0.1.0, read as the store reads
/// them.
pub(crate) static SLOT_AND_READ: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 2 * window)
redis.call('ZADD', KEYS[5], now, ARGV[4])
redis.call('PEXPIRE', KEYS[5], 2 * window)
local replicas = redis.call('ZCARD', KEYS[5])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[4])
local known = used
local wait = 0
local next = 0
if used < cap then
  redis.call('ZADD', KEYS[4], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[4], window)
  used = used + 1
  if used >= cap then
    local oldest = redis.call('ZRANGE', KEYS[4], used - cap, used - cap, 'WITHSCORES')
    next = tonumber(oldest[2]) + window - now
    if next < 1 then next = 1 end
  end
else
  local oldest = redis.call('ZRANGE', KEYS[4], used - cap, used - cap, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now
  if wait < 1 then wait = 1 end
end
local v = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3])
local locked = v[2] and 1 or 0
local legacy = ''
if KEYS[6] then
  local l = redis.call('MGET', KEYS[6], KEYS[7])
  legacy = l[1] or ''
  if l[2] then locked = 1 end
end
return {wait, replicas, v[1] or '', locked, v[3] or '', next, legacy, known}
",
    )
});
