//! The generator writes a UUID path parameter as it prints and a UUID
//! header value from `Uuid::hyphenated` (codegen's `fast_request_parts`),
//! where progenitor percent-encodes `to_string()`. The two are the same
//! bytes for every UUID; and the raw client sends exactly those bytes.
//! Each request's headers are built in one map (codegen's
//! `one_header_map`): `accept` and `content-type` once each, the body as
//! `serde_json::to_vec` writes it; an answer's headers are kept
//! (`hooks::from_response` moves them into the `ResponseValue`).

use proptest::prelude::*;
use reqwest::header::HeaderValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

proptest! {
    #[test]
    fn a_uuid_needs_no_percent_encoding(bits in any::<u128>()) {
        let id = Uuid::from_u128(bits);
        prop_assert_eq!(format!("{id}"), progenitor_client::encode_path(&id.to_string()));
        let fast = HeaderValue::from_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer())).unwrap();
        let progenitor: HeaderValue = id.to_string().try_into().unwrap();
        prop_assert_eq!(fast, progenitor);
    }
}

/// An answer that ends the exchange (the client's result is not looked at).
const REFUSED: &[u8] =
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// One request of the raw client, as the server reads it (the head
/// lowercased, the body its `content-length` states), answered `answer`;
/// and what `send` (the client's call, given the server's base URL)
/// returned.
async fn sent_request<T>(
    answer: &[u8],
    send: impl FnOnce(String) -> tokio::task::JoinHandle<T>,
) -> (String, Vec<u8>, T) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = send(base);
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = socket.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the client closed before sending its headers");
        received.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8(received[..end].to_vec())
        .unwrap()
        .to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |length| length.trim().parse().unwrap());
    while received.len() < end + length {
        let n = socket.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the client closed before sending its body");
        received.extend_from_slice(&buffer[..n]);
    }
    socket.write_all(answer).await.unwrap();
    let result = client.await.unwrap();
    (head, received[end..].to_vec(), result)
}

#[tokio::test]
async fn the_card_id_and_the_idempotency_key_go_out_as_uuids_print() {
    let id = Uuid::new_v4();
    let key = Uuid::new_v4();
    let (head, _, ()) = sent_request(REFUSED, move |base| {
        tokio::spawn(async move {
            let client = uqpay_issuing_raw::Client::new_without_redirects(
                &base,
                uqpay_issuing_raw::hooks::Inner::default(),
            );
            let body = uqpay_issuing_raw::types::UpdateCardStatusRequest {
                card_status: uqpay_issuing_raw::types::CardStatus::Frozen,
                update_reason: None,
            };
            let _ = client.update_card_status(&id, &key, None, &body).await;
        })
    })
    .await;
    assert!(
        head.starts_with(&format!("post /v1/issuing/cards/{id}/status http/1.1\r\n")),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nx-idempotency-key: {key}\r\n")),
        "{head}"
    );
}

/// The raw client's `update_card` of `body` against a server answering
/// `answer`: the request as the server read it, and what the call returned.
async fn exchange(
    answer: &'static [u8],
    body: uqpay_issuing_raw::types::UpdateCardRequest,
) -> (
    String,
    Vec<u8>,
    Result<
        progenitor_client::ResponseValue<uqpay_issuing_raw::types::UpdateCardResponse>,
        progenitor_client::Error<uqpay_issuing_raw::types::ApiError>,
    >,
) {
    sent_request(answer, move |base| {
        tokio::spawn(async move {
            let client = uqpay_issuing_raw::Client::new_without_redirects(
                &base,
                uqpay_issuing_raw::hooks::Inner::default(),
            );
            client
                .update_card(&Uuid::new_v4(), &Uuid::new_v4(), None, &body)
                .await
        })
    })
    .await
}

#[tokio::test]
async fn a_request_carries_each_header_once_and_its_body_as_serde_json_writes_it() {
    let body = uqpay_issuing_raw::types::UpdateCardRequest {
        name_on_card: Some("MARSHALL HU".parse().unwrap()),
        ..Default::default()
    };
    let expected = serde_json::to_vec(&body).unwrap();
    let (head, sent, _) = exchange(REFUSED, body).await;
    assert_eq!(sent, expected);
    for header in [
        "accept: application/json",
        "content-type: application/json",
        &format!("content-length: {}", expected.len()),
    ] {
        assert_eq!(
            head.matches(&format!("\r\n{header}\r\n")).count(),
            1,
            "{header} once in {head}"
        );
    }
    let names: Vec<&str> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .collect();
    for name in [
        "accept",
        "content-type",
        "content-length",
        "x-idempotency-key",
    ] {
        assert_eq!(
            names.iter().filter(|n| **n == name).count(),
            1,
            "{name} in {head}"
        );
    }
}

#[tokio::test]
async fn an_answer_keeps_its_headers() {
    let answer: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req-42\r\ncontent-length: 120\r\nconnection: close\r\n\r\n{\"card_id\":\"c0cef051-29c5-4796-b86a-cd5b684bfad7\",\"card_order_id\":\"o-1\",\"card_status\":\"ACTIVE\",\"order_status\":\"PENDING\"}";
    let (_, _, result) = exchange(answer, Default::default()).await;
    let value = result.expect("a 200 answer reads");
    assert_eq!(value.status(), 200);
    assert_eq!(value.headers()["x-request-id"], "req-42");
    assert_eq!(value.headers()["content-type"], "application/json");
}
