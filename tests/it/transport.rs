//! The HTTP layer users configure: an egress proxy (a real CONNECT proxy,
//! written here with hyper; and one that refuses with 407), a private root
//! certificate (a CA made with rcgen, in front of the simulator through
//! TLS), and the SDK's invariants that survive whatever `configure_http`
//! does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use uqpay_e2e::{assign_share_card, Canned, FixedServer, TOKEN};
use uqpay_issuing::{Client, Error};
use uqpay_mock::MockServer;

use crate::support::update;

/// A private CA and a certificate for `localhost` it signed.
struct Pki {
    ca_pem: String,
    leaf: CertificateDer<'static>,
    leaf_key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "uqpay-issuing test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        leaf: leaf_cert.der().clone(),
        leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

/// Terminates TLS with `pki`'s certificate on a free port and forwards the
/// plain bytes to `target`. Returns the port.
async fn tls_front(pki: &Pki, target: SocketAddr) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone()], pki.leaf_key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

/// What the proxy saw: the target of each CONNECT, and every header name
/// of every request it was sent in the clear.
#[derive(Clone, Default)]
struct ProxyLog {
    tunnels: Arc<Mutex<Vec<String>>>,
    headers: Arc<Mutex<Vec<String>>>,
}

/// An HTTP proxy on a free port that tunnels CONNECT requests (refusing
/// anything else with a 405).
async fn connect_proxy() -> (String, ProxyLog) {
    let log = ProxyLog::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let seen = seen.clone();
                async move {
                    seen.headers
                        .lock()
                        .unwrap()
                        .extend(request.headers().keys().map(|k| k.to_string()));
                    if request.method() != Method::CONNECT {
                        let mut refused = Response::new(Empty::<Bytes>::new());
                        *refused.status_mut() = hyper::StatusCode::METHOD_NOT_ALLOWED;
                        return Ok::<_, hyper::Error>(refused);
                    }
                    let target = request.uri().authority().unwrap().to_string();
                    seen.tunnels.lock().unwrap().push(target.clone());
                    tokio::spawn(async move {
                        let Ok(upgraded) = hyper::upgrade::on(request).await else {
                            return;
                        };
                        let Ok(mut server) = TcpStream::connect(&target).await else {
                            return;
                        };
                        let mut client = TokioIo::new(upgraded);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                    Ok(Response::new(Empty::<Bytes>::new()))
                }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (url, log)
}

#[tokio::test]
async fn through_an_egress_proxy_to_a_host_with_a_private_ca() {
    let simulator = MockServer::builder().token(TOKEN).start().await.unwrap();
    let pki = pki();
    let port = tls_front(&pki, simulator.addr()).await;
    let (proxy, log) = connect_proxy().await;
    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    let client = Client::builder()
        .token(TOKEN)
        .base_url(format!("https://localhost:{port}/api"))
        .max_retries(0)
        .configure_http(move |http| {
            http.proxy(reqwest::Proxy::all(&proxy).unwrap())
                .add_root_certificate(ca.clone())
                .pool_max_idle_per_host(4)
        })
        .build()
        .unwrap();
    let card = assign_share_card(&client, 1).await.unwrap();
    client
        .update_card(card)
        .name_on_card("THROUGH A PROXY")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simulator.card(card).unwrap().name_on_card.as_deref(),
        Some("THROUGH A PROXY")
    );
    // The calls went through the proxy's tunnel; the proxy never saw the
    // token (it travels inside TLS).
    let tunnels = log.tunnels.lock().unwrap().clone();
    assert!(!tunnels.is_empty(), "no CONNECT");
    assert!(
        tunnels.iter().all(|t| *t == format!("localhost:{port}")),
        "{tunnels:?}"
    );
    let headers = log.headers.lock().unwrap().clone();
    assert!(!headers.iter().any(|h| h == "x-auth-token"), "{headers:?}");
}

#[tokio::test]
async fn an_unknown_certificate_authority_is_refused() {
    let simulator = MockServer::builder().token(TOKEN).start().await.unwrap();
    let pki = pki();
    let port = tls_front(&pki, simulator.addr()).await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(format!("https://localhost:{port}/api"))
        .max_retries(0)
        .build()
        .unwrap();
    let error = assign_share_card(&client, 2).await.unwrap_err();
    assert!(matches!(error, Error::Network { .. }), "{error:?}");
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    assert_eq!(simulator.card_requests_received(), 0);
}

#[tokio::test]
async fn configure_http_cannot_turn_redirects_back_on() {
    let elsewhere = FixedServer::start(Canned::json(200, "{}")).await;
    let redirecting = FixedServer::start(Canned::json(307, "").with_header(
        "location",
        &format!("{}/api/v1/issuing/cards/assign", elsewhere.origin()),
    ))
    .await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(redirecting.base_url())
        .configure_http(|http| http.redirect(reqwest::redirect::Policy::limited(10)))
        .build()
        .unwrap();
    let error = assign_share_card(&client, 3).await.unwrap_err();
    assert_eq!(error.status(), Some(307), "{error}");
    assert!(
        elsewhere.seen().is_empty(),
        "the token reached another host"
    );
}

// ---------------------------------------------------------------------------
// A proxy that refuses: 407

/// A proxy on loopback that answers every request 407, echoing the request
/// head in its page (as some proxies do); counts the requests.
async fn refusing_proxy() -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.fetch_add(1, Ordering::SeqCst);
                let page = format!(
                    "<html><body><h1>407 Proxy Authentication Required</h1><pre>{}</pre></body></html>",
                    String::from_utf8_lossy(&head)
                );
                let answer = format!(
                    "HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm=\"egress\"\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, count)
}

#[tokio::test]
async fn a_connect_refused_with_407_is_a_proxy_configuration_error_sent_once() {
    let (proxy, connects) = refusing_proxy().await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url("https://api.uqpay.test/api")
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(2))
        .configure_http(move |http| http.proxy(reqwest::Proxy::all(&proxy).unwrap()))
        .build()
        .unwrap();
    let error = update(&client).await.unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(!error.is_retryable());
    let text = error.to_string();
    assert!(text.contains("proxy") && text.contains("407"), "{text}");
    assert_eq!(connects.load(Ordering::SeqCst), 1, "a 407 is not retried");
}

#[tokio::test]
async fn a_plain_http_proxy_407_names_the_proxy_and_hides_its_credentials() {
    let (proxy, requests) = refusing_proxy().await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url("http://api.uqpay.test/api")
        .allow_http(true)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(2))
        .configure_http(move |http| {
            http.proxy(
                reqwest::Proxy::http(&proxy)
                    .unwrap()
                    .basic_auth("egress-user", "s3cr3t-proxy-pw"),
            )
        })
        .build()
        .unwrap();
    let error = update(&client).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(
        text.contains("proxy") && text.contains("407") && !text.contains("UQPay API error"),
        "{text}"
    );
    // "egress-user:s3cr3t-proxy-pw" in base64, and the token the proxy saw.
    for secret in ["ZWdyZXNzLXVzZXI6czNjcjN0LXByb3h5LXB3", "s3cr3t", TOKEN] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(requests.load(Ordering::SeqCst), 1, "a 407 is not retried");
}
