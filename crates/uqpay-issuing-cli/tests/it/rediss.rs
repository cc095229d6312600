//! `rediss://`: the token store over TLS (the redis crate's rustls
//! features, unified into the SDK's `RedisTokenStore` by the CLI's build),
//! for TLS-only managed Redis fleets.

use std::time::Duration;

use uuid::Uuid;

use crate::support::{cli, run, simulator, Scratch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_urls_are_accepted_and_speak_tls() {
    use tokio::io::AsyncReadExt as _;
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("rediss");
    // A listener standing for the TLS-only Redis: what the CLI sends first
    // must be a TLS handshake (a ClientHello record: 0x16 0x03).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut command = cli(Some(&server.base_url()), &dir.0, true);
    command.args([
        "--token-store",
        &format!("rediss://127.0.0.1:{port}"),
        "card",
        "get",
        &Uuid::new_v4().to_string(),
        "--max-retries",
        "0",
        "--deadline",
        "5s",
    ]);
    let ran = tokio::spawn(run(command, None));
    let accepted = tokio::time::timeout(Duration::from_secs(30), listener.accept()).await;
    let hello = match accepted {
        Ok(Ok((mut stream, _))) => {
            let mut first = [0u8; 2];
            tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut first))
                .await
                .ok()
                .and_then(Result::ok)
                .map(|_| first)
        }
        _ => None,
    };
    drop(listener);
    let ran = ran.await.unwrap();
    assert_eq!(hello, Some([0x16, 0x03]), "no TLS handshake: {ran:?}");
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(
        !ran.stderr.contains("not enabled") && !ran.stderr.contains("--token-store:"),
        "{}",
        ran.stderr
    );
}
