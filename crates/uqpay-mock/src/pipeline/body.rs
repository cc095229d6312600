//! The body of a card request: read (up to [`MAX_BODY_BYTES`]) and parsed
//! into the operation's request type, a problem named by its field's path.

use axum::body::Body;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::reply::Reply;

/// The largest request body the simulator reads; larger ones get a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of a too-large body is still read (and thrown away) so that the
/// 413 reaches a client that is still sending; past this the connection is
/// simply closed.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// Reads the whole request body (see [`DRAIN_LIMIT`]).
pub(crate) async fn read_body(mut body: Body) -> Result<Bytes, Reply> {
    use http_body_util::BodyExt as _;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| Reply::invalid(format!("cannot read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY_BYTES {
                chunks.push(data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(Reply::payload_too_large(MAX_BODY_BYTES));
    }
    // Usually one chunk: no copy.
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().expect("one chunk"),
        _ => chunks.concat().into(),
    })
}

/// Parses a JSON body into `T`, naming the field of the first problem.
pub(crate) fn parse_body<T: DeserializeOwned + schemars::JsonSchema>(
    bytes: Bytes,
) -> Result<(T, Bytes), Reply> {
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Reply::invalid(format!("the request body is not valid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(Reply::invalid(
            "the request body must be a JSON object".into(),
        ));
    };
    let schema = schemars::schema_for!(T);
    let missing: Vec<String> = schema
        .schema
        .object
        .as_ref()
        .map(|o| {
            o.required
                .iter()
                .filter(|field| !object.contains_key(*field))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !missing.is_empty() {
        return Err(Reply::invalid_missing(
            format!("missing required field(s): {}", missing.join(", ")),
            missing,
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        Reply::invalid(format!(
            "{path}: {}",
            strip_location(&e.inner().to_string())
        ))
    })?;
    Ok((parsed, bytes))
}

/// serde_json appends " at line L column C"; the field name says more.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::StatusCode;
    use uqpay_issuing_raw::types::{AssignCardRequest, UpdateCardRequest};

    fn message(reply: &Reply) -> serde_json::Value {
        serde_json::from_slice(&reply.body).unwrap()
    }

    #[tokio::test]
    async fn bodies_are_read_whole_up_to_the_limit() {
        let chunks =
            ["{\"a\":", "1}"].map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c.as_bytes())));
        let body = Body::from_stream(futures::stream::iter(chunks));
        assert_eq!(
            read_body(body).await.unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
        assert_eq!(read_body(Body::empty()).await.unwrap(), Bytes::new());
        let at_limit = Body::from(vec![b' '; MAX_BODY_BYTES]);
        assert_eq!(read_body(at_limit).await.unwrap().len(), MAX_BODY_BYTES);
        let over = Body::from(vec![b' '; MAX_BODY_BYTES + 1]);
        let refused = read_body(over).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(message(&refused)["type"], "invalid_request_error");
    }

    #[test]
    fn each_problem_is_named_by_its_field() {
        let parse = |text: &'static str| {
            parse_body::<UpdateCardRequest>(Bytes::from_static(text.as_bytes()))
        };
        let (request, bytes) = parse(r#"{"name_on_card": "A"}"#).unwrap();
        assert_eq!(
            request.name_on_card.map(|n| n.to_string()).as_deref(),
            Some("A")
        );
        assert_eq!(
            bytes,
            Bytes::from_static(br#"{"name_on_card": "A"}"#),
            "the bytes as sent"
        );
        for (text, start) in [
            (r#"{"card_limit": -1}"#, "card_limit: "),
            (
                r#"{"spending_controls": [{"amount": 5, "interval": "HOURLY"}]}"#,
                "spending_controls[0].interval: ",
            ),
            ("[1]", "the request body must be a JSON object"),
            ("{", "the request body is not valid JSON"),
            ("", "the request body is not valid JSON"),
        ] {
            let refused = parse(text).map(|_| ()).unwrap_err();
            assert_eq!(refused.status, StatusCode::BAD_REQUEST);
            let text_of = message(&refused)["message"].as_str().unwrap().to_owned();
            assert!(text_of.starts_with(start), "{text}: {text_of}");
            if text.starts_with('{') && text.len() > 1 {
                assert!(!text_of.contains(" at line "), "{text_of}");
            }
        }
        let missing =
            parse_body::<AssignCardRequest>(Bytes::from_static(b"{\"card_mode\": \"SINGLE\"}"))
                .map(|_| ())
                .unwrap_err();
        assert_eq!(
            message(&missing)["missing_fields"],
            serde_json::json!(["card_currency", "card_number", "cardholder_id"])
        );
    }

    #[test]
    fn locations_are_cut_from_serde_messages() {
        assert_eq!(
            strip_location("invalid type: string at line 1 column 5"),
            "invalid type: string"
        );
        assert_eq!(strip_location("no location"), "no location");
    }
}
