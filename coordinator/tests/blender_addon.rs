//! The Blender add-on end to end: real headless Blender installs it from the
//! zip `scripts/build-addon.sh` builds, and submits a project with a
//! texture and a linked library (with its own texture) to this coordinator,
//! where a real worker renders it with real Blender. The script
//! (`plugins/blender/tests/e2e_submit.py`) checks the frames' range, size
//! and textured colours, a refused submit that uploads nothing, and a second
//! submit that uploads only the changed texture; it prints its figures on a
//! `FARM_E2E` line, which this test prints too.

mod support;

use std::process::Command;

use support::app::local_config;
use support::{TestApp, blender_ready, repo_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_add_on_submits_a_project_that_renders_with_its_textures() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let worker = app.spawn_in_process_worker("addon-worker", dir.path());
    let token = app.submitter("studio").await;

    let built = Command::new("bash")
        .arg(repo_root().join("scripts/build-addon.sh"))
        .output()
        .expect("bash runs");
    assert!(
        built.status.success(),
        "building the add-on failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let zip = repo_root().join(String::from_utf8(built.stdout).unwrap().trim());
    assert!(zip.exists(), "{} was not built", zip.display());

    let work = dir.path().join("e2e");
    let script = repo_root().join("plugins/blender/tests/e2e_submit.py");
    let output = tokio::process::Command::new("blender")
        .args([
            "-b",
            "--factory-startup",
            "--python-exit-code",
            "1",
            "--python",
        ])
        .arg(&script)
        .arg("--")
        .arg("--zip")
        .arg(&zip)
        .arg("--work")
        .arg(&work)
        .env("FARM_URL", &app.api)
        .env("FARM_TOKEN", &token)
        .output()
        .await
        .expect("blender runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the add-on's end-to-end script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures = stdout
        .lines()
        .find(|line| line.starts_with("FARM_E2E "))
        .unwrap_or_else(|| panic!("no FARM_E2E line in:\n{stdout}"));
    println!("{figures}");
    app.stop().await;
    worker.await.unwrap().expect("the worker exits cleanly");
}
