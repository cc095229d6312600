//! Conveniences on the generated open status enums: `Display` as on the
//! wire, comparison with a known status, and access to the known value.

use std::fmt;

use crate::types::{CardState, OrderState, ReportedCardStatus, ReportedOrderStatus};

macro_rules! open_enum {
    ($open:ident, $known:ident) => {
        impl $open {
            /// The status, if it is one this version knows, in whatever
            /// letter case it was sent: UQPay's Update Card events say
            /// `"success"` where every API answer says `"SUCCESS"`. The
            /// text stays as sent (`Display`); compare with `known()` or
            /// `==`, not by matching the `Known` variant alone.
            pub fn known(&self) -> Option<$known> {
                match self {
                    Self::Known(known) => Some(*known),
                    Self::Unknown(raw) if raw.bytes().any(|b| b.is_ascii_lowercase()) => {
                        raw.to_ascii_uppercase().parse().ok()
                    }
                    Self::Unknown(_) => None,
                }
            }
        }

        impl fmt::Display for $open {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    Self::Known(known) => fmt::Display::fmt(known, f),
                    Self::Unknown(raw) => f.write_str(raw),
                }
            }
        }

        impl PartialEq<$known> for $open {
            fn eq(&self, other: &$known) -> bool {
                self.known() == Some(*other)
            }
        }
    };
}

open_enum!(ReportedCardStatus, CardState);
open_enum!(ReportedOrderStatus, OrderState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_comparison() {
        let frozen = ReportedCardStatus::Known(CardState::Frozen);
        assert_eq!(frozen.to_string(), "FROZEN");
        assert!(frozen == CardState::Frozen);
        assert!(frozen != CardState::Active);
        let new: ReportedCardStatus = serde_json::from_str("\"SUSPENDED\"").unwrap();
        assert_eq!(new.to_string(), "SUSPENDED");
        assert_eq!(new.known(), None);
        let done: ReportedOrderStatus = serde_json::from_str("\"SUCCESS\"").unwrap();
        assert!(done == OrderState::Success);
        // As Update Card events send it: the status known, the text kept.
        let lower: ReportedOrderStatus = serde_json::from_str("\"success\"").unwrap();
        assert_eq!(lower.known(), Some(OrderState::Success));
        assert!(lower == OrderState::Success);
        assert!(lower != OrderState::Failed);
        assert_eq!(lower.to_string(), "success");
        let odd: ReportedOrderStatus = serde_json::from_str("\"succeeded\"").unwrap();
        assert_eq!(odd.known(), None);
    }
}
