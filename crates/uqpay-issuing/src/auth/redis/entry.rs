//! What the fleet keeps in Redis for one client id: the keys, the token
//! entry (JSON: the token, its expiry, when to renew it, a generation), and
//! one read of them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::auth::token::AccessToken;

/// The keys of one client id: `<namespace>:{<client id>}:token`, `:lock`,
/// `:failed`, `:ratelimit:<window ms>` and `:ratelimit:<window ms>:replicas`.
/// The braces are a hash tag: every key of a client id lies in one slot of
/// a cluster, so each script and read stays on one node. A single server
/// uses the same keys (a fleet can move from one to the other).
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    base: String,
    pub(crate) token: String,
    pub(crate) lock: String,
    pub(crate) failure: String,
    /// The keys version 0.1.0 used (`<namespace>:token:<client id>` and its
    /// `:lock`), read and written beside these on a single server, so that
    /// a rolling upgrade from 0.1.0 shares one token (absent on a cluster,
    /// where 0.1.0 never worked and they would lie in other slots).
    pub(crate) legacy: Option<LegacyKeys>,
}

/// The token and lock keys of version 0.1.0.
#[derive(Clone, Debug)]
pub(crate) struct LegacyKeys {
    pub(crate) token: String,
    pub(crate) lock: String,
}

impl Keys {
    /// The keys of `client_id` under `namespace`; with the 0.1.0 keys
    /// beside them when `legacy`.
    pub(crate) fn of(namespace: &str, client_id: &str, legacy: bool) -> Self {
        let base = format!("{namespace}:{{{client_id}}}");
        let legacy = legacy.then(|| {
            let token = format!("{namespace}:token:{client_id}");
            LegacyKeys {
                lock: format!("{token}:lock"),
                token,
            }
        });
        Self {
            token: format!("{base}:token"),
            lock: format!("{base}:lock"),
            failure: format!("{base}:failed"),
            base,
            legacy,
        }
    }

    /// The log of the fleet's rate limit of window `window_ms`.
    pub(crate) fn slots(&self, window_ms: u64) -> String {
        format!("{}:ratelimit:{window_ms}", self.base)
    }

    /// The replicas that took slots of that log lately.
    pub(crate) fn replicas(&self, window_ms: u64) -> String {
        format!("{}:ratelimit:{window_ms}:replicas", self.base)
    }
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

    /// The newer of what the current keys and the 0.1.0 keys hold (by
    /// generation, then expiry): an entry over anything else, the current
    /// key's on a tie.
    pub(crate) fn newest(current: Self, legacy: Self) -> Self {
        match (&current, &legacy) {
            (Self::Entry(a, _), Self::Entry(b, _))
                if (b.generation, b.expires_at_ms) > (a.generation, a.expires_at_ms) =>
            {
                legacy
            }
            (Self::Entry(..), _) => current,
            (_, Self::Entry(..)) => legacy,
            _ => current,
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

    #[test]
    fn every_key_of_a_client_id_shares_its_hash_tag() {
        let keys = Keys::of("uqpay-issuing", "client-7", false);
        assert_eq!(keys.token, "uqpay-issuing:{client-7}:token");
        assert_eq!(keys.lock, "uqpay-issuing:{client-7}:lock");
        assert_eq!(keys.failure, "uqpay-issuing:{client-7}:failed");
        assert_eq!(
            keys.slots(61_200),
            "uqpay-issuing:{client-7}:ratelimit:61200"
        );
        assert_eq!(
            keys.replicas(61_200),
            "uqpay-issuing:{client-7}:ratelimit:61200:replicas"
        );
        assert!(keys.legacy.is_none(), "no 0.1.0 keys on a cluster");
        let single = Keys::of("ns", "c", true);
        let legacy = single.legacy.unwrap();
        assert_eq!(
            (legacy.token.as_str(), legacy.lock.as_str()),
            ("ns:token:c", "ns:token:c:lock")
        );
    }

    #[test]
    fn the_newest_of_the_current_and_the_legacy_entry_is_used() {
        let entry = |generation: u64, lives: u64| {
            let token = token(
                &format!("tok-{generation}-{lives}"),
                Duration::from_secs(lives),
            );
            let text =
                serde_json::to_string(&Entry::of(&token, SystemTime::now(), generation)).unwrap();
            Stored::parse(Some(text))
        };
        assert_eq!(Stored::newest(entry(3, 60), entry(2, 60)).generation(), 3);
        assert_eq!(Stored::newest(entry(3, 60), entry(4, 60)).generation(), 4);
        // The same generation (two mints racing across versions): the one
        // that expires later was minted later.
        let later = Stored::newest(entry(5, 60), entry(5, 900));
        let (_, token) = later.usable(SystemTime::now(), None).unwrap();
        assert_eq!(token.expose(), "tok-5-900");
        assert_eq!(
            Stored::newest(Stored::Missing, entry(1, 60)).generation(),
            1
        );
        assert_eq!(
            Stored::newest(entry(1, 60), Stored::Missing).generation(),
            1
        );
        assert!(matches!(
            Stored::newest(Stored::Unreadable("x"), Stored::Missing),
            Stored::Unreadable(_)
        ));
    }
}
