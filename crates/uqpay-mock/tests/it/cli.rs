//! The `uqpay-mock` binary's flags: values it must refuse before it
//! serves anything (issue 25.11), and the bounds it takes.

use std::io::{BufRead as _, Read as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a run of the binary with `args` ended: its exit code and standard
/// error, or `None` and the first line of standard output (its base URL)
/// when it was still serving after a while (then it is killed).
fn run(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_uqpay-mock"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--token",
            "T",
            "--client-id",
            "c",
            "--api-key",
            "k",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.code(), stderr);
        }
        if Instant::now() > deadline {
            return (None, serving(child));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first line a serving binary printed (its base URL, printed once it
/// serves); it is killed.
fn serving(mut child: Child) -> String {
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    line
}

#[test]
fn a_fault_rate_that_is_not_a_rate_exits_2() {
    for value in ["NaN", "7", "1.5", "-0.1", "inf", "lots"] {
        let flag = format!("--fault-rate={value}");
        let (code, stderr) = run(&[&flag]);
        assert_eq!(code, Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '--fault-rate")),
            "{flag}: {stderr}"
        );
        assert!(stderr.contains("0 to 1"), "{flag}: {stderr}");
    }
}

#[test]
fn a_rate_limit_of_no_calls_exits_2() {
    for value in ["0/1s", "10/1s,token=0"] {
        let (code, stderr) = run(&["--rate-limit", value]);
        assert_eq!(code, Some(2), "{value}: {stderr}");
        assert!(stderr.contains("at least 1"), "{value}: {stderr}");
    }
}

#[test]
fn the_bounds_are_taken() {
    let child = Command::new(env!("CARGO_BIN_EXE_uqpay-mock"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--token",
            "T",
            "--client-id",
            "c",
            "--api-key",
            "k",
        ])
        .args(["--fault-rate", "1", "--rate-limit", "1/1s,token=1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = serving(child);
    assert!(
        line.starts_with("http://127.0.0.1:") && line.trim_end().ends_with("/api"),
        "{line}"
    );
}
