//! `coordinator demo`, the README's main command, as a user runs it: the
//! binary renders the sample scene on local workers, one of them cheating,
//! and prints the parity summary, the cost report and the payouts.

mod support;

use std::process::Command;

use support::{blender_ready, repo_root, sample_scene};

fn demo(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .arg("demo")
        .arg("--scene")
        .arg(sample_scene())
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .current_dir(repo_root())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the coordinator binary runs")
}

#[test]
fn the_demo_catches_a_cheater_and_prints_the_cost_report() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = demo(
        dir.path(),
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
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
            "{needle:?} missing from:\n{stdout}"
        );
    }
    let cheater = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("demo-worker-3 "))
        .expect("the cheater's payout line");
    assert!(
        cheater.contains("0.000000    0.000000"),
        "the cheater earns and holds nothing: {cheater}"
    );
    let reports = dir.path().join("store/reports");
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
fn the_demo_refuses_tampering_without_the_cheater_flag_or_enough_workers() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &["--tamper", "patch"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--i-am-a-test-cheater"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = demo(
        dir.path(),
        &[
            "--tamper",
            "patch",
            "--i-am-a-test-cheater",
            "--workers",
            "2",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--workers 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
