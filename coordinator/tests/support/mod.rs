//! Test set-up shared by the coordinator's integration tests: a `TestApp`
//! that starts the real coordinator, real worker processes, a real S3
//! server (moto) and a private RabbitMQ virtual host.
//!
//! In CI (`CI=true`) a missing service, binary or Blender fails the test;
//! locally the test is skipped with a loud message.
//!
//! Each test crate uses a part of it, hence the allowances below.

#![allow(dead_code, unused_imports)]

pub mod app;
pub mod services;
pub mod standins;
pub mod ui;

pub use app::TestApp;
pub use services::require;

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The sample scene the tests render.
pub fn sample_scene() -> PathBuf {
    repo_root().join("samples/sample.blend")
}

/// What an end-to-end test on the real services needs: Blender, a private
/// RabbitMQ virtual host, an S3 server and a scratch folder; `None` when
/// skipping locally.
pub async fn real_services()
-> Option<(services::RabbitVhost, services::S3Server, tempfile::TempDir)> {
    if !blender_ready() {
        return None;
    }
    let vhost = services::RabbitVhost::create()?;
    let s3 = services::S3Server::start().await?;
    Some((vhost, s3, tempfile::tempdir().unwrap()))
}

/// Whether Blender can run here (fails the test in CI when not).
pub fn blender_ready() -> bool {
    let found = std::process::Command::new("blender")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    require("Blender (apt-get install -y blender)", found)
}
