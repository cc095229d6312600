//! `Client::new_without_redirects` does not follow a redirect (so a token
//! set on every request stays with the configured host); `Client::new`
//! follows it, which is why the other constructor exists.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use uqpay_issuing_raw::hooks::Inner;
use uqpay_issuing_raw::Client;

/// A server answering every request with `answer`; counts connections.
async fn serve(answer: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, hits)
}

async fn request(client: &Client) -> u16 {
    {
        let body = uqpay_issuing_raw::types::UpdateCardStatusRequest {
            card_status: uqpay_issuing_raw::types::CardStatus::Frozen,
            update_reason: None,
        };
        let result = client
            .update_card_status(&uuid::Uuid::nil(), &uuid::Uuid::new_v4(), None, &body)
            .await;
        match result {
            Ok(response) => response.status().as_u16(),
            Err(error) => error.status().map_or(0, |s| s.as_u16()),
        }
    }
}

#[tokio::test]
async fn the_redirect_free_constructor_stays_on_the_configured_host() {
    let body = r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_order_id":"o","order_status":"PENDING"}"#;
    let (elsewhere, elsewhere_hits) = serve(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await;
    let (home, _) = serve(format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}/api/v1/issuing/cards/x/status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ))
    .await;
    let safe = Client::new_without_redirects(&format!("{home}/api"), Inner::default());
    assert_eq!(request(&safe).await, 307);
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
    // progenitor's constructor follows it to the other host.
    let default = Client::new(&format!("{home}/api"), Inner::default());
    assert_eq!(request(&default).await, 200);
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 1);
}
