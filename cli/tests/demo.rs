//! `farm demo`, the README's main command, as a user runs it, from a folder
//! that is not the repository: the binary renders its built-in sample scene
//! (a .blend and its texture, sent as a bundle) on local workers, one of
//! them cheating, and prints the parity summary, the cost report and the
//! payouts, with its logs in a file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Whether Blender runs here; in CI its absence fails the test.
fn blender_ready() -> bool {
    let found = Command::new("blender")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "Blender is missing (apt-get install -y blender) and CI needs it"
        );
        eprintln!("SKIPPED: Blender is missing (apt-get install -y blender)");
    }
    found
}

/// `farm demo --dir DIR EXTRA...`, run in `cwd`.
fn demo_command(cwd: &Path, dir: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_farm"));
    command
        .arg("demo")
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .current_dir(cwd)
        .env_remove("RUST_LOG");
    command
}

/// Run the demo and wait for it.
fn demo(cwd: &Path, dir: &Path, extra: &[&str]) -> Output {
    demo_command(cwd, dir, extra)
        .output()
        .expect("the farm binary runs")
}

/// stdout and stderr, for a failed assertion.
fn both(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_demo_catches_a_cheater_and_prints_the_cost_report() {
    if !blender_ready() {
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    let dir = cwd.path().join("farm");
    let out = demo(
        cwd.path(),
        &dir,
        &[
            "--frames",
            "1-6",
            "--workers",
            "3",
            "--chunk-size",
            "1",
            "--tamper",
            "black",
            "--i-am-a-test-cheater",
        ],
    );
    assert!(out.status.success(), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "uploaded 2 file(s)",
        "done: 6/6 frames rendered",
        "is done",
        "Parity (job rate 5%",
        "BLOCKLISTED:          demo-worker-3",
        "Cost report (USD):",
        "total billed:",
        "verification overhead:",
        "Worker payouts (USD):",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{}",
            both(&out)
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let frame_lines = stderr.lines().filter(|l| l.contains("rendered in")).count();
    assert_eq!(frame_lines, 6, "one line per frame: {}", both(&out));
    assert!(
        !stderr.contains(" INFO "),
        "logs go to the log file, not the terminal: {stderr}"
    );
    let log = std::fs::read_to_string(dir.join("farm.log")).expect("the demo's log file");
    assert!(log.contains("coordinator listening"), "{log}");
    let cheater = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("demo-worker-3 "))
        .expect("the cheater's payout line");
    assert!(
        cheater.contains("0.000000    0.000000"),
        "the cheater earns and holds nothing: {cheater}"
    );
    let reports = dir.join("store/reports");
    let job = std::fs::read_dir(&reports)
        .expect("a reports folder")
        .next()
        .expect("one job's report")
        .unwrap()
        .path();
    let csv = std::fs::read_to_string(job.join("cost.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6 + 2, "{csv}");
    assert!(
        !csv.contains("demo-worker-3"),
        "no frame is billed from the cheater: {csv}"
    );
}

#[test]
fn the_demo_serves_its_api_until_stopped() {
    if !blender_ready() {
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    let dir = cwd.path().join("farm");
    let mut child = demo_command(
        cwd.path(),
        &dir,
        &["--frames", "1-2", "--workers", "1", "--serve"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut value_of = |label: &str| -> String {
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(value) = line.trim_start().strip_prefix(label) {
                return value.trim().to_owned();
            }
        }
        panic!("the demo ended before printing {label:?}");
    };
    let ui = value_of("UI:");
    let url = value_of("API:");
    let token = value_of("admin token:");
    // The printed link signs a browser in once.
    let link = ui.split_whitespace().next().unwrap();
    let signed_in = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", link])
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&signed_in.stdout);
    assert!(headers.starts_with("HTTP/1.1 200"), "{headers}");
    assert!(
        headers.to_lowercase().contains("set-cookie: farm_session="),
        "{headers}"
    );
    let answer = Command::new("curl")
        .args(["-sf", "-H", &format!("Authorization: Bearer {token}"), &url])
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&answer.stdout);
    assert!(answer.status.success(), "GET {url} failed: {body}");
    assert!(body.contains(r#""state":"done""#), "{body}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the demo stops cleanly on SIGTERM: {status}"
    );
}

#[test]
fn the_demo_refuses_tampering_without_the_cheater_flag_or_enough_workers() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &dir.path().join("farm"), &["--tamper", "patch"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--i-am-a-test-cheater"),
        "{}",
        both(&out)
    );
    let out = demo(
        dir.path(),
        &dir.path().join("farm"),
        &[
            "--tamper",
            "patch",
            "--i-am-a-test-cheater",
            "--workers",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--workers 3"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_missing_blender_is_one_sentence_not_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(
        dir.path(),
        &dir.path().join("farm"),
        &["--blender", "/nonexistent/blender"],
    );
    assert!(!out.status.success(), "{}", both(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", both(&out));
    assert!(
        lines[0].starts_with("error: cannot run Blender as /nonexistent/blender")
            && lines[0].contains("--blender"),
        "{}",
        both(&out)
    );
}
