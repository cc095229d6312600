//! UQPay's webhook signature, as its four official SDKs compute it:
//! `x-wk-signature` = lowercase hex of HMAC-SHA512, keyed by the webhook
//! secret's bytes, over the raw body immediately followed by the
//! `x-wk-timestamp` header's text as sent (UQPay's pages say only "HMAC512
//! hex digest of the body"; the SDKs and their tests append the timestamp).
//! Written once here for the SDK's verifier and the simulator's deliveries.

use hmac::{Hmac, Mac as _};
use sha2::Sha512;

/// A prepared HMAC-SHA512 key (cheap to clone; clone it per message).
pub type Key = Hmac<Sha512>;

/// The HMAC key of a webhook secret (any length is accepted).
pub fn key(secret: &[u8]) -> Key {
    Key::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// The MAC of one delivery, ready to finalise or verify.
pub fn mac(key: &Key, body: &[u8], timestamp: &str) -> Key {
    let mut mac = key.clone();
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac
}

/// The `x-wk-signature` of `body` sent with `x-wk-timestamp: timestamp`.
///
/// ```
/// let signature = uqpay_issuing_raw::signature::sign(b"whsec_test_secret", b"{}", "1711077773");
/// assert_eq!(signature.len(), 128);
/// ```
pub fn sign(secret: &[u8], body: &[u8], timestamp: &str) -> String {
    hex::encode(mac(&key(secret), body, timestamp).finalize().into_bytes())
}
