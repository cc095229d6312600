//! What the fleet keeps in Redis for one client id: the keys, the token
//! entry (JSON: the token, its expiry, when to renew it, a generation), and
//! one read of them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::auth::token::AccessToken;

/// The keys of one client id.
#[derive(Clone)]
pub(crate) struct Keys {
    pub(crate) token: String,
    pub(crate) lock: String,
    pub(crate) failure: String,
}

/// The stored token of a client id.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Entry {
    pub(crate) token: String,
    pub(crate) expires_at_ms: u64,
    /// When the fleet renews it.
    pub(crate) renew_at_ms: u64,
    /// Counts the mints of the client id.
    pub(crate) generation: u64,
}

impl Entry {
    pub(crate) fn of(token: &AccessToken, renew_at: SystemTime, generation: u64) -> Self {
        Self {
            token: token.expose().to_owned(),
            expires_at_ms: unix_ms(token.expires_at()),
            renew_at_ms: unix_ms(renew_at),
            generation,
        }
    }
}

/// What the token key holds.
pub(crate) enum Stored {
    Missing,
    /// Something this version cannot use, and why.
    Unreadable(&'static str),
    Entry(Entry, AccessToken),
}

impl Stored {
    pub(crate) fn parse(text: Option<String>) -> Self {
        let Some(text) = text else {
            return Self::Missing;
        };
        let Ok(entry) = serde_json::from_str::<Entry>(&text) else {
            return Self::Unreadable("not an entry of this version");
        };
        match AccessToken::new(entry.token.clone(), from_unix_ms(entry.expires_at_ms)) {
            Ok(token) => Self::Entry(entry, token),
            Err(_) => Self::Unreadable("its token is not a valid header value"),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        match self {
            Self::Entry(entry, _) => entry.generation,
            _ => 0,
        }
    }

    /// The stored token if it can be sent now (valid, not `refused`).
    pub(crate) fn usable(
        &self,
        now: SystemTime,
        refused: Option<&AccessToken>,
    ) -> Option<(&Entry, &AccessToken)> {
        match self {
            Self::Entry(entry, token) if token.is_valid_at(now) && Some(token) != refused => {
                Some((entry, token))
            }
            _ => None,
        }
    }
}

/// One read of the store: the token key, whether a mint holds the lock, a
/// recent mint failure.
pub(crate) struct Snapshot {
    pub(crate) stored: Stored,
    pub(crate) locked: bool,
    pub(crate) failure: Option<String>,
}

pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH)
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(value: &str, lives: Duration) -> AccessToken {
        AccessToken::new(value, SystemTime::now() + lives).unwrap()
    }

    #[test]
    fn an_entry_round_trips_and_keeps_its_generation() {
        let live = token("tok-1", Duration::from_secs(1800));
        let renew = SystemTime::now() + Duration::from_secs(1500);
        let text = serde_json::to_string(&Entry::of(&live, renew, 7)).unwrap();
        let stored = Stored::parse(Some(text));
        assert_eq!(stored.generation(), 7);
        let (entry, parsed) = stored.usable(SystemTime::now(), None).unwrap();
        assert_eq!(parsed.expose(), "tok-1");
        assert_eq!(entry.renew_at_ms, unix_ms(renew));
        // The refused token is not usable, whatever is stored.
        assert!(stored.usable(SystemTime::now(), Some(&live)).is_none());
    }

    #[test]
    fn missing_unreadable_and_expired_entries_are_not_used() {
        assert!(matches!(Stored::parse(None), Stored::Missing));
        assert!(matches!(
            Stored::parse(Some("not json".into())),
            Stored::Unreadable(_)
        ));
        let bad_header = r#"{"token":"a\nb","expires_at_ms":1,"renew_at_ms":1,"generation":3}"#;
        assert!(matches!(
            Stored::parse(Some(bad_header.into())),
            Stored::Unreadable(_)
        ));
        assert_eq!(Stored::parse(None).generation(), 0);
        let expired = token("old", Duration::from_secs(1));
        let text = serde_json::to_string(&Entry::of(&expired, SystemTime::now(), 1)).unwrap();
        let later = SystemTime::now() + Duration::from_secs(5);
        assert!(Stored::parse(Some(text)).usable(later, None).is_none());
    }

    #[test]
    fn unix_milliseconds_saturate() {
        assert_eq!(unix_ms(UNIX_EPOCH), 0);
        assert_eq!(
            from_unix_ms(1_500),
            UNIX_EPOCH + Duration::from_millis(1_500)
        );
        assert_eq!(millis(Duration::ZERO), 1, "never a zero PX");
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }
}
