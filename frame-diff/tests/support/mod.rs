//! Shared test set-up: the external-tool rule and the Blender test renders.
//!
//! Rule for external tools (`blender`, `idiff`, `flip`): when one is missing,
//! a test fails under CI (`CI=true`) and is skipped locally with a loud
//! message on stderr. [`require_tool`] is the one place that rule lives.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod files;
pub mod tamper;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// True when running under CI, where a missing tool is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns whether `tool` can be run (`tool --version` or `tool --help`
/// starts). Missing: panics under CI, otherwise prints a loud notice and
/// returns false so the caller can skip.
pub fn require_tool(tool: &str) -> bool {
    let found = ["--version", "--help"].iter().any(|arg| {
        Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success() || !o.stdout.is_empty())
    });
    if !found {
        assert!(
            !in_ci(),
            "`{tool}` is required in CI but was not found on PATH (see .ci/apt-packages.txt and .ci/requirements.txt)"
        );
        eprintln!(
            "\n!!!!! SKIPPING: `{tool}` not found on PATH; install it to run this test !!!!!\n"
        );
    }
    found
}

/// The Blender script that renders the test scene.
pub fn scene_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scene/render_scene.py")
}

/// Directory with the rendered test scene (see `tests/scene/render_scene.py`
/// for the file list), rendered once and cached under the target directory,
/// keyed by the script's hash. `None` when Blender is missing locally.
pub fn scene() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if !require_tool("blender") {
            return None;
        }
        let script = scene_script();
        let key = blake3::hash(&std::fs::read(&script).expect("read render_scene.py"));
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("frame-diff-scene");
        let dir = root.join(&key.to_hex()[..16]);
        if dir.join("other_f1_s16.exr").exists() {
            return Some(dir);
        }
        let staging = root.join(format!("staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let output = Command::new("blender")
            .args(["-b", "--factory-startup", "--disable-autoexec", "--python"])
            .arg(&script)
            .arg("--")
            .arg(&staging)
            .output()
            .expect("run blender");
        assert!(
            output.status.success() && staging.join("other_f1_s16.exr").exists(),
            "blender failed to render the test scene:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if std::fs::rename(&staging, &dir).is_err() {
            // Another process finished first; its renders are identical.
            let _ = std::fs::remove_dir_all(&staging);
        }
        Some(dir)
    })
    .as_deref()
}
