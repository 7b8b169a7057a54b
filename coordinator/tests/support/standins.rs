//! The renderer stand-ins' scenes and workers (test-support/renderer-standins:
//! TEST STAND-INS for Cinema 4D's Commandline and Octane Standalone, which
//! cannot be installed here), shared by the tests of Cinema 4D and Octane
//! jobs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::TestApp;
use super::app::WorkerProcess;
use super::services::{RabbitVhost, S3Server};

/// A Cinema 4D stand-in document: 48×27, a take `Close-up`, one texture.
pub const C4D_SCENE: &str = "C4D-STANDIN 1\nsize 48 27\ntake Close-up\nasset tex/wood.png\n";

/// An Octane stand-in package with two render targets.
pub const ORBX_SCENE: &str =
    "ORBX-STANDIN 1\nfps 24\nsamples 16\ntarget Beauty 40 30\ntarget Clay 32 18\n";

/// A private RabbitMQ virtual host, an S3 server and a scratch folder
/// (no Blender: these workers have none); `None` when skipping locally.
pub async fn services() -> Option<(RabbitVhost, S3Server, tempfile::TempDir)> {
    let vhost = RabbitVhost::create()?;
    let s3 = S3Server::start().await?;
    Some((vhost, s3, tempfile::tempdir().unwrap()))
}

/// `worker run` arguments for a worker with only this stand-in (no Blender).
pub fn only(flag: &str, standin: &Path) -> Vec<String> {
    vec![
        "--blender".into(),
        "/nonexistent/blender".into(),
        flag.into(),
        standin.display().to_string(),
    ]
}

/// Start worker `name` with `args`.
pub async fn spawn(app: &TestApp, name: &str, dir: &Path, args: &[String]) -> WorkerProcess {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    WorkerProcess::spawn_with_args(app, name, dir, &args).await
}

/// Write `text` to `dir/name`; its path.
pub fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// The ids of the workers named `names`.
pub async fn ids_of(app: &TestApp, names: &[&str]) -> HashSet<String> {
    app.workers()
        .await
        .into_iter()
        .filter(|w| names.contains(&w["name"].as_str().unwrap()))
        .map(|w| w["id"].as_str().unwrap().to_owned())
        .collect()
}
