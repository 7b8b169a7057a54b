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
fn an_unreachable_broker_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let output = worker()
        .args([
            "run",
            "--queue-url",
            "amqp://guest:guest@127.0.0.1:1/%2f",
            "--work-dir",
        ])
        .arg(dir.path().join("work"))
        .arg("--store-url")
        .arg(format!("file://{}", dir.path().join("store").display()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to the RabbitMQ"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("guest:guest"),
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
        .arg("--store-url")
        .arg(format!("file://{}", dir.path().join("store").display()))
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
