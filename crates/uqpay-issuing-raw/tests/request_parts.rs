//! The generator writes a UUID path parameter as it prints and a UUID
//! header value from `Uuid::hyphenated` (codegen's `fast_request_parts`),
//! where progenitor percent-encodes `to_string()`. The two are the same
//! bytes for every UUID; and the raw client sends exactly those bytes.

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

/// One request of the raw client, as the server reads it.
async fn sent_request(send: impl FnOnce(String) -> tokio::task::JoinHandle<()>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = send(base);
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the client closed before sending its headers");
        received.extend_from_slice(&buffer[..n]);
    }
    socket
        .write_all(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    client.await.unwrap();
    String::from_utf8(received).unwrap().to_ascii_lowercase()
}

#[tokio::test]
async fn the_card_id_and_the_idempotency_key_go_out_as_uuids_print() {
    let id = Uuid::new_v4();
    let key = Uuid::new_v4();
    let head = sent_request(move |base| {
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
