//! The token store's password: never in a flag, a profile, an output or an
//! error; read from `UQPAY_TOKEN_STORE_PASSWORD` (or `..._FILE`) and put
//! into the URL in memory.

use std::process::Stdio;
use std::time::Duration;

use uuid::Uuid;

use crate::support::{cli, closed_port, run, simulator, Ran, Scratch};

const PASSWORD: &str = "hunter2-redis-pw-7c1d";

fn assert_no_password(what: &str, ran: &Ran) {
    assert!(
        !ran.stdout.contains(PASSWORD) && !ran.stderr.contains(PASSWORD),
        "{what}: the password shows: {ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_a_flag_or_a_profile_is_refused_and_never_shown() {
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("redis-pw");
    let port = closed_port();
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{port}");
    let card = Uuid::new_v4().to_string();

    // In --token-store: refused (exit 2), pointing at the variables.
    let mut flag = cli(Some(&server.base_url()), &dir.0, true);
    flag.args(["--token-store", &url, "card", "get", &card]);
    let ran = run(flag, None).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("UQPAY_TOKEN_STORE_PASSWORD"),
        "{}",
        ran.stderr
    );
    assert_no_password("--token-store", &ran);

    // In profile set: refused, nothing written.
    let mut set = cli(None, &dir.0, false);
    set.args(["profile", "set", "ops", "--profile-token-store", &url]);
    let ran = run(set, None).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert_no_password("profile set", &ran);
    let config = dir.path("config.toml");
    assert!(
        !std::fs::read_to_string(&config)
            .unwrap_or_default()
            .contains(PASSWORD),
        "the profile file holds the password"
    );

    // A profile written by hand (or by an earlier version): shown masked,
    // refused when used.
    std::fs::write(
        &config,
        format!("[profiles.old]\nenv = \"mock\"\ntoken_store = [\"{url}\"]\n"),
    )
    .unwrap();
    let mut show = cli(None, &dir.0, false);
    show.args(["profile", "show", "old"]);
    let ran = run(show, None).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_no_password("profile show", &ran);
    assert!(ran.stdout.contains(&format!("127.0.0.1:{port}")), "{ran:?}");
    let mut used = cli(Some(&server.base_url()), &dir.0, true);
    used.args(["--profile", "old", "card", "get", &card]);
    let ran = run(used, None).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("UQPAY_TOKEN_STORE_PASSWORD"),
        "{}",
        ran.stderr
    );
    assert_no_password("--profile", &ran);

    // From the variable, against a store that cannot be reached: the
    // error does not show it.
    for (name, value) in [
        ("UQPAY_TOKEN_STORE_PASSWORD", PASSWORD.to_owned()),
        ("UQPAY_TOKEN_STORE_PASSWORD_FILE", {
            let file = dir.path("redis-password");
            std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
            file.display().to_string()
        }),
    ] {
        let mut unreachable = cli(Some(&server.base_url()), &dir.0, true);
        unreachable.env(name, &value).args([
            "--token-store",
            &format!("redis://127.0.0.1:{port}"),
            "card",
            "get",
            &card,
            "--max-retries",
            "0",
            "--deadline",
            "5s",
        ]);
        let ran = run(unreachable, None).await;
        assert_ne!(ran.code, 0, "{ran:?}");
        assert_ne!(ran.code, 2, "{name}: {ran:?}");
        assert_no_password(name, &ran);
    }
}

/// A Redis server requiring a password, on a free port; stopped when dropped.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_with_password() -> Option<Redis> {
    let port = closed_port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            PASSWORD,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Redis { child, port })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_from_the_variable_opens_the_store() {
    let Some(redis) = redis_with_password() else {
        eprintln!("no redis-server: skipped");
        return;
    };
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", redis.port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server starts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("redis-auth");
    let card = Uuid::new_v4().to_string();
    let store = format!("redis://127.0.0.1:{}", redis.port);
    // Without the password Redis refuses; with it, the token is minted and
    // kept there, and the call gets its answer (card_not_found, exit 1).
    let mut without = cli(Some(&server.base_url()), &dir.0, true);
    without.args([
        "--token-store",
        &store,
        "card",
        "get",
        &card,
        "--max-retries",
        "0",
        "--deadline",
        "5s",
    ]);
    let ran = run(without, None).await;
    assert_eq!(ran.code, 3, "{ran:?}");
    let mut with = cli(Some(&server.base_url()), &dir.0, true);
    with.env("UQPAY_TOKEN_STORE_PASSWORD", PASSWORD).args([
        "--token-store",
        &store,
        "card",
        "get",
        &card,
    ]);
    let ran = run(with, None).await;
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("card_not_found"), "{}", ran.stderr);
    assert_no_password("a run with the password", &ran);
}
