//! The command-line and Octane submitters of Cinema 4D and Octane jobs
//! against a real coordinator, over real RabbitMQ and a real S3-compatible
//! server, rendered by worker processes with the renderers' TEST STAND-INS
//! (test-support/renderer-standins): `farm submit` of a Cinema 4D project
//! folder (its assets sent with it) and of an `.orbx`; Octane's
//! `submit.lua` run by a real Lua interpreter under the stub `octane` table,
//! driving the real `farm`; what either would get wrong refused before
//! anything is uploaded.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use coordinator::model::JobDetail;
use coordinator::state::JobState;
use protocol::{JobId, Renderer};
use serde_json::Value;
use support::app::{standin_binary, test_config};
use support::standins::{C4D_SCENE, ORBX_SCENE, ids_of, only, services, spawn, write};
use support::{TestApp, repo_root};

/// What a finished program printed and how it ended.
struct Ran {
    /// Its exit code.
    code: Option<i32>,
    /// Its stdout.
    stdout: String,
    /// Its stderr.
    stderr: String,
}

/// Run `command` to its end, with `farm`'s settings pointing at `app` as
/// `token` and nothing of this machine's own.
async fn run(mut command: tokio::process::Command, app: &TestApp, token: &str, home: &Path) -> Ran {
    let output = command
        .env_remove("FARM_CONFIG")
        .env_remove("FARM_BLENDER")
        .env("FARM_URL", &app.api)
        .env("FARM_TOKEN", token)
        .env("XDG_CONFIG_HOME", home)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the program runs");
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `farm --json submit` with `args`: its JSON answer.
async fn farm_submit(app: &TestApp, token: &str, home: &Path, args: &[&str]) -> Value {
    let mut command = tokio::process::Command::new(standin_binary("farm"));
    command.args(["--json", "submit"]).args(args);
    let ran = run(command, app, token, home).await;
    assert_eq!(ran.code, Some(0), "farm submit {args:?}: {}", ran.stderr);
    serde_json::from_str(ran.stdout.trim()).expect("one JSON line")
}

/// `farm submit` with `args`, refused: exit code 3 and its message.
async fn farm_refused(app: &TestApp, token: &str, home: &Path, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(standin_binary("farm"));
    command.arg("submit").args(args);
    let ran = run(command, app, token, home).await;
    assert_eq!(ran.code, Some(3), "farm submit {args:?}: {}", ran.stderr);
    ran.stderr
}

/// The job's id in `farm --json submit`'s answer.
fn job_of(answer: &Value) -> JobId {
    answer["job"]["id"].as_str().unwrap().parse().unwrap()
}

/// Wait for `id` to end done, every frame by one of the workers `names`.
async fn done_on(app: &TestApp, id: JobId, names: &[&str]) -> JobDetail {
    let done = app.wait_final(id, Duration::from_secs(180)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    let workers = ids_of(app, names).await;
    for frame in &done.frame_list {
        let by = frame.worker_id.unwrap().to_string();
        assert!(workers.contains(&by), "frame {} by {by}", frame.frame);
    }
    done
}

/// Frame `frame` of job `id`, decoded.
async fn image(app: &TestApp, id: JobId, frame: i32) -> frame_diff::FrameImage {
    let bytes = app.download(id, frame).await;
    frame_diff::read_image_bytes(&bytes, Path::new("f.exr")).expect("an EXR")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farm_submit_and_the_octane_script_send_jobs_the_stand_ins_render() {
    let Some((vhost, s3, dir)) = services().await else {
        return;
    };
    let lua = std::env::var("LUA").unwrap_or_else(|_| "lua5.4".into());
    if !support::require(
        &format!("{lua} (apt-get install lua5.4) to run Octane's submit.lua"),
        std::process::Command::new(&lua).arg("-v").output().is_ok(),
    ) {
        return;
    }
    let app = TestApp::start(test_config(
        dir.path(),
        vhost.queue_config(),
        s3.store_config(),
    ))
    .await;
    let c4d = spawn(
        &app,
        "c4d",
        dir.path(),
        &only("--cinema4d", &standin_binary("cinema4d-standin")),
    )
    .await;
    let octane = spawn(
        &app,
        "oct",
        dir.path(),
        &only("--octane", &standin_binary("octane-standin")),
    )
    .await;
    app.wait_online(2).await;
    let token = app.submitter("studio").await;
    let home = dir.path().join("config");

    // A Cinema 4D project saved with its assets: the folder is the bundle.
    let project = dir.path().join("project");
    let scene = write(&project, "shot.c4d", C4D_SCENE.as_bytes());
    let wood = write(&project, "tex/wood.png", b"stand-in wood texture");
    let scene_arg = scene.display().to_string();
    let answer = farm_submit(
        &app,
        &token,
        &home,
        &[
            &scene_arg, "--take", "Close-up", "--frames", "1-3", "--chunk", "2",
        ],
    )
    .await;
    assert_eq!(
        answer["bundle_files"], 2,
        "the .c4d and its texture: {answer}"
    );
    assert_eq!(answer["job"]["renderer"], "cinema4d", "{answer}");
    let with_texture = done_on(&app, job_of(&answer), &["c4d"]).await;
    assert_eq!(with_texture.job.renderer, Renderer::Cinema4d);
    assert_eq!(
        with_texture.job.scene_options.take.as_deref(),
        Some("Close-up")
    );
    assert_eq!(with_texture.frame_list.len(), 3);
    // Without its texture the stand-in renders the missing asset magenta,
    // as Cinema 4D does: the texture sent is the one the frames show.
    std::fs::remove_file(&wood).unwrap();
    let answer = farm_submit(
        &app,
        &token,
        &home,
        &[&scene_arg, "--take", "Close-up", "--frames", "1"],
    )
    .await;
    assert_eq!(answer["bundle_files"], 1, "{answer}");
    let without = done_on(&app, job_of(&answer), &["c4d"]).await;
    let (a, b) = (
        image(&app, with_texture.job.id, 1).await,
        image(&app, without.job.id, 1).await,
    );
    assert_eq!((a.width, a.height), (48, 27));
    assert_ne!(a.channels, b.channels, "the texture changed the frame");

    // What the command line cannot know or the farm would refuse is
    // refused before anything is uploaded.
    let message = farm_refused(&app, &token, &home, &[&scene_arg]).await;
    assert!(message.contains("give --frames"), "{message}");
    let package = write(dir.path(), "look.orbx", ORBX_SCENE.as_bytes());
    let package_arg = package.display().to_string();
    let message = farm_refused(
        &app,
        &token,
        &home,
        &[&package_arg, "--renderer", "cinema4d", "--frames", "1"],
    )
    .await;
    assert!(message.contains("does not open .orbx"), "{message}");
    let message = farm_refused(
        &app,
        &token,
        &home,
        &[&package_arg, "--take", "Main", "--frames", "1"],
    )
    .await;
    assert!(message.contains("`take` is for cinema4d jobs"), "{message}");
    let jobs: Vec<Value> = app
        .http
        .get(format!("{}/api/v1/jobs", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2, "no refused job was created: {jobs:?}");

    // Octane's own submitter: the dialog's fields, the export, farm.
    let temp = dir.path().join("octane-temp");
    std::fs::create_dir_all(&temp).unwrap();
    let farm = standin_binary("farm");
    let mut command = tokio::process::Command::new(&lua);
    command
        .arg(repo_root().join("plugins/octane/tests/e2e_submit.lua"))
        .arg(&farm)
        .arg(&package)
        .arg(&temp)
        .args(["Clay", "1-2", "8", "look dev"]);
    let ran = run(command, &app, &token, &home).await;
    assert_eq!(ran.code, Some(0), "submit.lua: {}", ran.stderr);
    let id: JobId = ran
        .stdout
        .strip_prefix("JOB ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a job id: {}", ran.stdout))
        .parse()
        .unwrap();
    let done = done_on(&app, id, &["oct"]).await;
    assert_eq!(done.job.name, "look dev");
    assert_eq!(done.job.renderer, Renderer::Octane);
    assert_eq!(
        done.job.scene_options.render_target.as_deref(),
        Some("Clay")
    );
    assert_eq!(done.job.overrides.samples, Some(8));
    assert_eq!(done.frame_list.len(), 2);
    let frame = image(&app, id, 1).await;
    assert_eq!((frame.width, frame.height), (32, 18), "the Clay target");
    assert_eq!(
        std::fs::read_dir(&temp).unwrap().count(),
        0,
        "submit.lua removed its export"
    );

    for worker in [c4d, octane] {
        assert!(worker.terminate().await.success());
    }
    app.stop().await;
}
