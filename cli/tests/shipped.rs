//! What a release build contains: `cargo build --release` of the workspace
//! must not pull in test-only code. The cheating worker (`worker/tamper`,
//! `farm-cli/tamper`) and the queue's conformance suite and bench helpers
//! (`queue/test-support`) are features that only tests, benches and
//! `scripts/demo.sh --tamper` turn on.

use std::process::Command;

/// Features that only tests may enable.
const TEST_ONLY: [&str; 3] = [
    r#"worker feature "tamper""#,
    r#"farm-cli feature "tamper""#,
    r#"queue feature "test-support""#,
];

#[test]
fn release_builds_contain_no_test_only_features() {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // What a plain build resolves: normal and build dependencies of every
    // binary, with the features each ends up with; dev-dependencies (where
    // the test-only features are switched on) are left out.
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--workspace",
            "--edges",
            "normal,build,features",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(workspace)
        .output()
        .expect("cargo runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        tree.contains(r#"worker feature "default""#) && tree.contains("farm-cli"),
        "the tree lists features: {tree}"
    );
    for feature in TEST_ONLY {
        assert!(
            !tree.contains(feature),
            "a release build would contain {feature}; enable it only from dev-dependencies"
        );
    }
}
