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
                    // Parsing makes a documented status `Known`; one built
                    // by hand as `Unknown` is still recognised.
                    Self::Unknown(raw) => raw.parse().ok(),
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

        /// One equality for every spelling: two documented statuses are
        /// equal when they are the same status, whatever their letter case
        /// or variant (`Known(Active) == Unknown("active")`, as `known()`
        /// and `== CardState::Active` say); two undocumented ones when their
        /// texts are, ignoring ASCII case.
        impl PartialEq for $open {
            fn eq(&self, other: &Self) -> bool {
                match (self.known(), other.known()) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => self.raw().eq_ignore_ascii_case(other.raw()),
                    _ => false,
                }
            }
        }

        impl Eq for $open {}

        /// Consistent with `==`: the status if documented, else the text
        /// in upper case.
        impl std::hash::Hash for $open {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                match self.known() {
                    Some(known) => {
                        state.write_u8(0);
                        known.hash(state);
                    }
                    None => {
                        state.write_u8(1);
                        for b in self.raw().bytes() {
                            state.write_u8(b.to_ascii_uppercase());
                        }
                    }
                }
            }
        }

        impl $open {
            /// The text of an undocumented status ("" for a documented one).
            fn raw(&self) -> &str {
                match self {
                    Self::Known(_) => "",
                    Self::Unknown(raw) => raw,
                }
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

    #[test]
    fn one_equality_whatever_the_spelling() {
        use std::collections::HashSet;
        let known = ReportedCardStatus::Known(CardState::Active);
        let lower = ReportedCardStatus::Unknown("active".into());
        let upper = ReportedCardStatus::Unknown("ACTIVE".into());
        assert_eq!(known, lower);
        assert_eq!(lower, upper);
        assert!(known == CardState::Active && lower == CardState::Active);
        assert_ne!(known, ReportedCardStatus::Known(CardState::Frozen));
        assert_ne!(known, ReportedCardStatus::Unknown("SUSPENDED".into()));
        assert_eq!(
            ReportedCardStatus::Unknown("suspended".into()),
            ReportedCardStatus::Unknown("SUSPENDED".into())
        );
        // Hash agrees with ==: equal values land in one set entry.
        let set: HashSet<ReportedCardStatus> = [known, lower, upper].into_iter().collect();
        assert_eq!(set.len(), 1);
        let orders: HashSet<ReportedOrderStatus> = [
            ReportedOrderStatus::Known(OrderState::Success),
            ReportedOrderStatus::Unknown("success".into()),
        ]
        .into_iter()
        .collect();
        assert_eq!(orders.len(), 1);
    }
}
