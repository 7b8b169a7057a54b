//! The `worker` binary: configuration errors, and a clean exit on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn worker() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command.env("RUST_LOG", "info").env_remove("RUST_BACKTRACE");
    command
}

#[test]
fn a_bad_configuration_exits_non_zero_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    std::fs::write(&config, "heartbeat = 5\n").unwrap();
    let output = worker()
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `heartbeat`"), "{stderr}");
    assert!(stderr.contains("worker.toml"), "{stderr}");
}

#[test]
fn tampering_without_the_cheater_flag_is_refused() {
    let output = worker()
        .args(["run", "--tamper", "black"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(output.status.code(), Some(2), "clap's usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--i-am-a-test-cheater"), "{stderr}");
}

#[test]
fn a_worker_that_never_enrolled_exits_non_zero_and_says_how_to_enroll() {
    let dir = tempfile::tempdir().unwrap();
    let output = worker()
        .args([
            "run",
            "--queue-url",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            "--work-dir",
        ])
        .arg(dir.path().join("work"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not enrolled"), "{stderr}");
    assert!(stderr.contains("--enroll-token"), "{stderr}");
}

#[test]
fn an_unreachable_coordinator_exits_non_zero_without_printing_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let output = worker()
        .args([
            "run",
            "--coordinator",
            "http://127.0.0.1:1",
            "--enroll-token",
            "rf_secret-enrollment-token",
            "--work-dir",
        ])
        .arg(dir.path().join("work"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot enroll with the coordinator"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-enrollment-token"), "{stderr}");
    assert!(!dir.path().join("work/identity.json").exists());
}

#[test]
fn an_unreachable_broker_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let identity = protocol::EnrollResponse {
        worker_id: protocol::WorkerId::new(),
        owner: "bob".into(),
        region: "local".into(),
        node_classes: vec!["standard".into()],
        device_classes: vec!["cpu".into()],
        queue_url: "amqp://w:secret@127.0.0.1:1/%2f".into(),
    };
    worker::enroll::save(&work, &identity).unwrap();
    let output = worker()
        .args(["run", "--work-dir"])
        .arg(&work)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to the RabbitMQ"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password is not printed: {stderr}"
    );
}

#[test]
fn sigterm_stops_an_idle_worker_cleanly() {
    if !common::blender_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = worker()
        .args(["run", "--name", "cli-test", "--queue-path"])
        .arg(dir.path().join("queue.sqlite"))
        .arg("--work-dir")
        .arg(dir.path().join("work"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("waiting for tasks"));
    assert!(ready, "the worker never got ready");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {rest:?}");
    assert!(
        rest.iter().any(|line| line.contains("worker left")),
        "{rest:?}"
    );
}
