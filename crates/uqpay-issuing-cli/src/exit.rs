//! Exit codes, and [`Failure`]: the error a command ends with, carrying its
//! code and a message that holds no secret.

use std::fmt;

use uqpay_issuing::Error;

use crate::redis_url;

/// Everything went well.
pub const OK: u8 = 0;
/// UQPay answered with an error (a refusal, a 401, an answer that does not decode).
pub const API: u8 = 1;
/// The command line, the configuration or an input file is wrong (clap's own usage errors are 2 too).
pub const USAGE: u8 = 2;
/// UQPay could not be reached, or did not answer in time.
pub const NETWORK: u8 = 3;
/// A bug, or the machine failed (a file that cannot be written...).
pub const INTERNAL: u8 = 4;
/// A change may or may not have been applied: reconcile before going on.
pub const RECONCILE: u8 = 5;
/// A bulk run finished, and some of its rows failed.
pub const BULK_FAILED: u8 = 6;
/// Interrupted (Ctrl-C).
pub const INTERRUPTED: u8 = 130;

/// Why a command failed, and its exit code. Its text never holds a secret
/// or a full card number (the SDK's errors are redacted already; the CLI's
/// own messages never quote them; the user-info of a URL is masked).
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What to tell the operator (on stderr).
    pub message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: redis_url::mask_in_text(&uqpay_issuing::redact(&message.into())),
        }
    }

    /// A usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(USAGE, message)
    }

    /// An internal error (exit 4).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(INTERNAL, message)
    }

    /// An error of the SDK for a read (`card get`): the code of its class.
    pub fn read(error: &Error) -> Self {
        Self::new(class(error), error.to_string())
    }

    /// An error of the SDK for a change: like [`Failure::read`], except
    /// that a change whose outcome is unknown (the request may have reached
    /// UQPay: a network failure, a timeout, a 5xx, "request is processing")
    /// is exit 5, with the idempotency key to reconcile with.
    pub fn write(error: &Error) -> Self {
        let key = error
            .idempotency_key()
            .map(|k| k.to_string())
            .unwrap_or_else(|| "(none)".into());
        if answered(error) {
            return Self::new(
                RECONCILE,
                format!(
                    "{error}\nreconcile required: UQPay answered {}: the change was applied, \
                     but its answer could not be read (idempotency key {key}). Check the \
                     result (card get) before doing anything else: never make the change \
                     again under another key",
                    error.status().unwrap_or_default()
                ),
            );
        }
        if outcome_unknown(error) {
            return Self::new(
                RECONCILE,
                format!(
                    "{error}\nreconcile required: the change may or may not have been applied. \
                     Run the same command again with --idempotency-key {key} within 24 hours: \
                     UQPay answers a repeated key with the first request's outcome and never \
                     applies it twice"
                ),
            );
        }
        Self::read(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code of an SDK error's class.
pub fn class(error: &Error) -> u8 {
    match error.last() {
        Error::Validation { .. } | Error::Config(_) => USAGE,
        Error::Timeout { .. }
        | Error::Network { .. }
        | Error::TokenStore { .. }
        | Error::RateLimitTimeout { .. } => NETWORK,
        Error::Api { .. } | Error::Unauthorized { .. } | Error::Decode { .. } => API,
        _ => INTERNAL,
    }
}

/// Whether UQPay answered the (last) attempt of a call with a 2xx: a
/// change so answered is done at UQPay, whatever its body (one that does
/// not decode included). Not a 2xx of the token endpoint: the change itself
/// was not sent then.
pub fn answered(error: &Error) -> bool {
    let mut error = error;
    loop {
        match error {
            Error::RetriesExhausted { last, .. } | Error::RetryBudgetSpent { last, .. } => {
                error = last;
            }
            Error::Token { .. } => return false,
            _ => {
                return error
                    .status()
                    .is_some_and(|status| (200..300).contains(&status))
            }
        }
    }
}

/// Whether a change that ended with `error` may have been applied: it was
/// answered with a 2xx (then it was), or it was sent (or may have been)
/// and its last answer was none, or one that does not say it was refused.
pub fn outcome_unknown(error: &Error) -> bool {
    if answered(error) {
        return true;
    }
    if error.attempts() == 0 || !error.is_retryable() {
        return false;
    }
    match error.last() {
        Error::Timeout { .. } | Error::Network { .. } => true,
        Error::Api { status, .. } => matches!(status, 408 | 500..=599) || error.is_processing(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let validation = uqpay_issuing::Error::Config("no".into());
        assert_eq!(class(&validation), USAGE);
        let network = Error::Network {
            message: "reset".into(),
            idempotency_key: None,
            source: None,
        };
        assert_eq!(class(&network), NETWORK);
        assert!(outcome_unknown(&network));
        assert_eq!(Failure::write(&network).code, RECONCILE);
        assert_eq!(Failure::read(&network).code, NETWORK);
        assert_eq!(Failure::write(&validation).code, USAGE);
    }

    #[test]
    fn a_2xx_that_does_not_decode_was_applied() {
        let key = uuid::Uuid::from_u128(5);
        let decode = |status| Error::Decode {
            status,
            message: "missing field `card_order_id`".into(),
            body: "{}".into(),
            attempts: 1,
            idempotency_key: Some(key),
        };
        assert!(answered(&decode(200)) && outcome_unknown(&decode(200)));
        let failure = Failure::write(&decode(200));
        assert_eq!(failure.code, RECONCILE);
        assert!(failure.message.contains(&key.to_string()));
        assert!(!answered(&decode(400)) && !outcome_unknown(&decode(400)));
        // A token endpoint's 200 that does not decode: the change was not sent.
        let token = Error::Token {
            source: Box::new(decode(200)),
            refused: None,
            attempts: 1,
            idempotency_key: Some(key),
        };
        assert!(!answered(&token) && !outcome_unknown(&token));
        assert_eq!(Failure::write(&decode(400)).code, API);
    }

    #[test]
    fn messages_are_redacted() {
        let failure = Failure::usage("card 4096360800133951 refused");
        assert!(!failure.message.contains("4096360800133951"));
        assert!(failure.message.contains("409636******3951"));
    }
}
