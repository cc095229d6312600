//! The simulator's clock: the system time plus an offset that tests move
//! forward (`MockServer::advance_clock`), so that 24-hour idempotency
//! records and 30-minute tokens can expire without anybody waiting; and
//! times written the way the API writes them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, Timelike as _};

/// System time plus a forward offset (milliseconds).
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_ms: AtomicU64,
}

impl Clock {
    /// The simulator's now.
    pub(crate) fn now(&self) -> SystemTime {
        let offset = Duration::from_millis(self.offset_ms.load(Ordering::SeqCst));
        // Past year 9999 the clock stops: nothing sensible happens there.
        SystemTime::now()
            .checked_add(offset)
            .filter(|t| *t < end_of_time())
            .unwrap_or_else(end_of_time)
    }

    /// The simulator's now, in whole seconds since the Unix epoch.
    pub(crate) fn unix_secs(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// Moves the clock forward by `by` (saturating).
    pub(crate) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                Some(current.saturating_add(ms))
            });
    }
}

/// `now` as the API reports times: UTC+8, whole seconds.
pub(crate) fn api_time(now: SystemTime) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let now = DateTime::<chrono::Utc>::from(now).with_timezone(&offset);
    now.with_nanosecond(0).unwrap_or(now)
}

/// 9999-12-31T23:59:59Z, where the clock stops.
fn end_of_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(253_402_300_799)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward_and_saturates() {
        let clock = Clock::default();
        let before = clock.unix_secs();
        clock.advance(Duration::from_secs(24 * 3600));
        assert!(clock.unix_secs() >= before + 24 * 3600);
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.offset_ms.load(Ordering::SeqCst), u64::MAX);
        assert_eq!(clock.now(), end_of_time());
    }

    #[test]
    fn api_times_are_utc_plus_8_in_whole_seconds() {
        let at = UNIX_EPOCH + Duration::from_millis(1_800_000_000_999);
        let written = api_time(at);
        assert_eq!(written.to_rfc3339(), "2027-01-15T16:00:00+08:00");
        assert_eq!(written.nanosecond(), 0);
    }
}
