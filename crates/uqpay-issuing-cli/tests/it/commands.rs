//! The card commands against `mock serve` started as a separate process,
//! the exit codes, completions, and profiles.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use uuid::Uuid;

use crate::support::{card_number, cli, run, Scratch, API_KEY, CLIENT_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_commands_against_mock_serve() {
    let dir = Scratch::new("commands");
    let mut serve = cli(None, &dir.0, false);
    serve.args([
        "mock",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--client-id",
        CLIENT_ID,
        "--api-key",
        API_KEY,
    ]);
    let mut child = serve.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/api"),
        "{base}"
    );
    let command = |args: &[&str]| {
        let mut command = cli(Some(&base), &dir.0, true);
        command.args(["-o", "json"]).args(args);
        command
    };

    let number_file = dir.path("number");
    std::fs::write(&number_file, card_number(42)).unwrap();
    let holder = Uuid::new_v4().to_string();
    let assign = run(
        command(&[
            "card",
            "assign",
            "--cardholder-id",
            &holder,
            "--card-currency",
            "USD",
            "--card-mode",
            "SHARE",
            "--card-number-file",
            number_file.to_str().unwrap(),
        ]),
        None,
    )
    .await;
    assert_eq!(assign.code, 0, "{assign:?}");
    let card_id = assign.json()["card_id"].as_str().unwrap().to_owned();
    let key = assign.json()["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same key again replays the first answer (reconciling).
    let replay = run(
        command(&[
            "card",
            "assign",
            "--cardholder-id",
            &holder,
            "--card-currency",
            "USD",
            "--card-mode",
            "SHARE",
            "--idempotency-key",
            &key,
        ]),
        Some(card_number(42).as_bytes()),
    )
    .await;
    assert_eq!(replay.code, 0, "{replay:?}");
    assert_eq!(replay.json()["card_id"], card_id.as_str());

    let get = run(command(&["card", "get", &card_id]), None).await;
    assert_eq!(get.code, 0, "{get:?}");
    assert_eq!(get.json()["card_status"], "ACTIVE");
    assert_eq!(get.json()["card_number"], "************0042");

    for (args, status) in [
        (
            vec!["card", "freeze", card_id.as_str(), "--reason", "lost"],
            "FROZEN",
        ),
        (vec!["card", "unfreeze", card_id.as_str()], "ACTIVE"),
        (
            vec!["card", "status", card_id.as_str(), "--to", "FROZEN"],
            "FROZEN",
        ),
        (
            vec![
                "card",
                "status",
                card_id.as_str(),
                "--to",
                "ACTIVE",
                "--timeout",
                "5s",
                "--max-retries",
                "1",
            ],
            "ACTIVE",
        ),
    ] {
        let ran = run(command(&args), None).await;
        assert_eq!(ran.code, 0, "{args:?}: {ran:?}");
        let get = run(command(&["card", "get", &card_id]), None).await;
        assert_eq!(get.json()["card_status"], status, "{args:?}");
    }
    let update = run(
        command(&[
            "card",
            "update",
            &card_id,
            "--card-limit",
            "2100.02",
            "--name-on-card",
            "MARSHALL HU",
            "--spending-control",
            "100.03:PER_TRANSACTION",
            "--spending-control",
            "500:DAILY",
            "--enable-3ds",
            "Y",
            "--blocked-mcc",
            "5999,6011",
            "--metadata",
            "order=A-17",
        ]),
        None,
    )
    .await;
    assert_eq!(update.code, 0, "{update:?}");
    let body = br#"{"no_pin_payment_amount": 50, "risk_controls": {"allowed_mcc": ["5411"]}}"#;
    let json_body = run(
        command(&["card", "update", &card_id, "--json-body", "-"]),
        Some(body),
    )
    .await;
    assert_eq!(json_body.code, 0, "{json_body:?}");
    let get = run(command(&["card", "get", &card_id]), None).await.json();
    assert_eq!(get["card_limit"], "2100.02");
    assert_eq!(get["metadata"]["order"], "A-17");

    // Usage errors (2), API errors (1), a card number as a flag refused.
    let unknown = run(command(&["card", "get", &Uuid::new_v4().to_string()]), None).await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("card_not_found"),
        "{}",
        unknown.stderr
    );
    let bad_mode = run(
        command(&[
            "card",
            "assign",
            "--cardholder-id",
            &holder,
            "--card-currency",
            "USD",
            "--card-mode",
            "TRIPLE",
        ]),
        None,
    )
    .await;
    assert_eq!(bad_mode.code, 2);
    assert!(bad_mode.stderr.contains("SINGLE") && bad_mode.stderr.contains("SHARE"));
    assert_eq!(
        run(
            command(&["card", "assign", "--card-number", "4096360800000042"]),
            None
        )
        .await
        .code,
        2
    );
    let no_credentials = {
        let mut c = cli(Some(&base), &dir.0, false);
        c.args(["card", "get", &card_id]);
        run(c, None).await
    };
    assert_eq!(no_credentials.code, 2, "{no_credentials:?}");

    let cancel = run(command(&["card", "cancel", &card_id]), None).await;
    assert_eq!(cancel.code, 0, "{cancel:?}");
    child.kill().await.unwrap();
    // The simulator gone: a network error (3) for a read.
    let gone = run(
        command(&["card", "get", &card_id, "--max-retries", "0"]),
        None,
    )
    .await;
    assert_eq!(gone.code, 3, "{gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_mock_completions_and_profiles() {
    let dir = Scratch::new("misc");
    let mut mock = cli(None, &dir.0, false);
    mock.args([
        "--env",
        "mock",
        "-o",
        "json",
        "card",
        "assign",
        "--cardholder-id",
    ])
    .arg(Uuid::new_v4().to_string())
    .args(["--card-currency", "USD", "--card-mode", "SINGLE"]);
    let ran = run(mock, Some(card_number(1).as_bytes())).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.json()["card_id"].is_string());

    for shell in ["bash", "zsh", "fish"] {
        let mut completion = cli(None, &dir.0, false);
        completion.args(["completion", shell]);
        let ran = run(completion, None).await;
        assert_eq!(ran.code, 0);
        assert!(
            ran.stdout.contains("uqpay-issuing") && ran.stdout.contains("bulk"),
            "{shell}"
        );
    }

    let mut set = cli(None, &dir.0, false);
    set.args([
        "profile",
        "set",
        "ops",
        "--profile-env",
        "mock",
        "--client-id",
        "someone",
        "--api-key-stdin",
    ]);
    let ran = run(set, Some(b"a-profile-key\n")).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(!ran.stdout.contains("a-profile-key"));
    let file = dir.path("config.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut show = cli(None, &dir.0, false);
        show.args(["profile", "show", "ops"]);
        let ran = run(show, None).await;
        assert_eq!(ran.code, 0);
        assert!(ran.stderr.contains("readable by others"), "{}", ran.stderr);
        assert!(!ran.stdout.contains("a-profile-key"));
    }
    let mut missing = cli(None, &dir.0, false);
    missing.args([
        "--profile",
        "nope",
        "card",
        "get",
        &Uuid::new_v4().to_string(),
    ]);
    assert_eq!(run(missing, None).await.code, 2);
}
