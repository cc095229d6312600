//! [`Event`]: an event UQPay sent, parsed in one pass when its fields come
//! in the usual order.

use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;
use uqpay_issuing_raw::events::{EventData, EVENT_TYPES};

use crate::redact::redact;
use crate::webhooks::error::WebhookError;

/// The type of an event, as sent (`card.update.succeeded`, or one this
/// version does not know).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);

impl EventType {
    /// The event type as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the spec names it (so that its data is typed).
    pub fn is_known(&self) -> bool {
        EVENT_TYPES.iter().any(|(known, _)| *known == self.0)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl PartialEq<str> for EventType {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EventType {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// An event UQPay sent: its envelope as sent, and its data, typed for the
/// card lifecycle events.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The payload's API version (`V1.6.0`).
    pub version: String,
    /// The category (`ISSUING`).
    pub event_name: String,
    /// The event (`card.update.succeeded`, ...).
    pub event_type: EventType,
    /// Unique per event and the same on every redelivery: deduplicate on it.
    pub event_id: String,
    /// The card order (create, update, status events) or the card
    /// (activation events) the event is about.
    pub source_id: String,
    /// The payload.
    pub data: EventData,
}

/// The envelope, with its data left unparsed until the type is known.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    version: String,
    #[serde(default)]
    event_name: String,
    event_type: String,
    event_id: String,
    #[serde(default)]
    source_id: String,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

impl Event {
    /// Parses a body **without verifying it** (for bodies verified
    /// elsewhere, and tests). Use a [`Verifier`](crate::webhooks::Verifier) for anything received.
    pub fn parse(body: &[u8]) -> Result<Event, WebhookError> {
        // One pass when `event_type` comes before `data` (as UQPay sends
        // it); anything else, and every error, goes through the two-pass
        // parse below, which also words the errors.
        match serde_json::from_slice::<OnePass>(body) {
            Ok(OnePass(event)) => Ok(event),
            Err(_) => Self::parse_in_two_passes(body),
        }
    }

    /// The envelope with its data left raw, then the data by its type.
    fn parse_in_two_passes(body: &[u8]) -> Result<Event, WebhookError> {
        let envelope: Envelope<'_> = serde_json::from_slice(body)
            .map_err(|e| WebhookError::InvalidPayload(payload_error(&e)))?;
        let data = envelope.data.map_or("{}", RawValue::get);
        let data = EventData::from_json(&envelope.event_type, data).map_err(|e| {
            WebhookError::InvalidPayload(format!(
                "the data of {} event {}: {}",
                envelope.event_type,
                envelope.event_id,
                payload_error(&e)
            ))
        })?;
        Ok(Event {
            version: envelope.version,
            event_name: envelope.event_name,
            event_type: EventType(envelope.event_type),
            event_id: envelope.event_id,
            source_id: envelope.source_id,
            data,
        })
    }
}

/// An event parsed in one pass: the envelope's fields, and `data` parsed
/// by its type as it is read (`event_type` having come first). Fails,
/// without saying why, on anything else (the caller falls back).
struct OnePass(Event);

/// The envelope's fields (any other is skipped).
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Version,
    EventName,
    EventType,
    EventId,
    SourceId,
    Data,
    #[serde(other)]
    Other,
}

/// The data of `event_type`, parsed where it stands.
struct DataOf<'t>(&'t str);

impl<'de> serde::de::DeserializeSeed<'de> for DataOf<'_> {
    type Value = EventData;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<EventData, D::Error> {
        // A null `data` is left to the two-pass parse (which reads it as `{}`).
        deserializer.deserialize_option(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DataOf<'_> {
    type Value = EventData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the data of a ")?;
        f.write_str(self.0)?;
        f.write_str(" event")
    }

    fn visit_some<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<EventData, D::Error> {
        EventData::deserialize_as(self.0, deserializer)
    }
}

impl<'de> Deserialize<'de> for OnePass {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OnePassVisitor)
    }
}

struct OnePassVisitor;

impl<'de> serde::de::Visitor<'de> for OnePassVisitor {
    type Value = OnePass;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event with its event_type before its data")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<OnePass, A::Error> {
        use serde::de::Error as _;
        let mut fields: [Option<String>; 5] = Default::default();
        let mut data = None;
        while let Some(field) = map.next_key::<Field>()? {
            let slot = match field {
                Field::Version => 0,
                Field::EventName => 1,
                Field::EventType => 2,
                Field::EventId => 3,
                Field::SourceId => 4,
                Field::Data => {
                    let Some(event_type) = fields[2].as_deref() else {
                        return Err(A::Error::custom("data before event_type"));
                    };
                    if data.is_some() {
                        return Err(A::Error::duplicate_field("data"));
                    }
                    data = Some(map.next_value_seed(DataOf(event_type))?);
                    continue;
                }
                Field::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            if fields[slot].is_some() {
                return Err(A::Error::custom("a duplicate field"));
            }
            fields[slot] = Some(map.next_value()?);
        }
        let [version, event_name, event_type, event_id, source_id] = fields;
        let (Some(event_type), Some(event_id), Some(data)) = (event_type, event_id, data) else {
            return Err(A::Error::custom("a missing field"));
        };
        Ok(OnePass(Event {
            version: version.unwrap_or_default(),
            event_name: event_name.unwrap_or_default(),
            event_type: EventType(event_type),
            event_id,
            source_id: source_id.unwrap_or_default(),
            data,
        }))
    }
}

/// serde_json's message, card numbers masked (it may quote the body).
fn payload_error(error: &serde_json::Error) -> String {
    redact(&error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentic_bodies_that_are_not_events_are_payload_errors() {
        for body in ["", "[]", "{\"event_type\":\"card.update.succeeded\"}", "{\"event_type\":\"card.update.succeeded\",\"event_id\":\"e\",\"data\":{\"card_limit\":true}}"] {
            assert!(matches!(Event::parse(body.as_bytes()), Err(WebhookError::InvalidPayload(_))), "{body}");
        }
        let unknown = Event::parse(
            br#"{"event_type":"card.recharge.succeeded","event_id":"e","data":{"amount":"1"}}"#,
        )
        .unwrap();
        assert!(!unknown.event_type.is_known());
        assert!(matches!(unknown.data, EventData::Unknown(_)));
    }

    /// The one-pass parse and the two-pass one (the reference) agree on
    /// every published example; where the one pass cannot (data first, a
    /// null data, errors), `parse` gives the two-pass answer.
    #[test]
    fn the_one_pass_parse_agrees_with_the_two_pass_one() {
        let mut seen = 0;
        for (_, body) in uqpay_issuing_raw::examples::WEBHOOKS {
            let body = body.as_bytes();
            let reference = Event::parse_in_two_passes(body).unwrap();
            let OnePass(one) = serde_json::from_slice(body).unwrap();
            assert_eq!(one, reference);
            assert!(!matches!(one.data, EventData::Unknown(_)));
            seen += 1;
        }
        assert!(seen >= 5, "fixtures read: {seen}");
        for body in [
            // data before event_type: not one pass, same event.
            r#"{"data":{"card_id":"c","card_status":"FROZEN"},"event_type":"card.status.update.succeeded","event_id":"e"}"#,
            // a null data reads as {}.
            r#"{"event_type":"card.recharge.succeeded","event_id":"e","data":null}"#,
            r#"{"event_type":"card.recharge.succeeded","event_id":"e"}"#,
            // unknown fields are skipped, missing optional ones are empty.
            r#"{"event_type":"card.update.succeeded","x":[1,{"y":2}],"event_id":"e","data":{"card_id":"c"},"z":null}"#,
        ] {
            let reference = Event::parse_in_two_passes(body.as_bytes()).unwrap();
            assert_eq!(Event::parse(body.as_bytes()).unwrap(), reference, "{body}");
        }
        let null =
            Event::parse(br#"{"event_type":"card.recharge.succeeded","event_id":"e","data":null}"#)
                .unwrap();
        assert_eq!(null.data, EventData::Unknown(serde_json::json!({})));
        for body in [
            r#"{"event_type":"card.update.succeeded","event_id":"e","event_id":"f","data":{}}"#,
            r#"{"event_type":"card.update.succeeded","event_id":"e","data":{},"data":{}}"#,
            r#"{"event_type":"card.update.succeeded","event_id":"e","data":{}} x"#,
            r#"{"event_type":"card.update.succeeded","data":{}}"#,
        ] {
            assert!(
                serde_json::from_slice::<OnePass>(body.as_bytes()).is_err(),
                "{body}"
            );
            assert!(
                Event::parse_in_two_passes(body.as_bytes()).is_err(),
                "{body}"
            );
            assert!(
                matches!(
                    Event::parse(body.as_bytes()),
                    Err(WebhookError::InvalidPayload(_))
                ),
                "{body}"
            );
        }
    }
}
