//! Farm overhead: wall time of the demo pipeline (coordinator, embedded
//! queue, local store, two workers, real Blender) for N frames of the
//! demo's sample scene, against one bare `blender -b -a` rendering the same
//! frames.
//!
//! `cargo bench -p farm-cli --bench overhead` from the repository root.
//! `BENCH_FRAMES` (default 24) and `BENCH_CHUNK` (default: frames / workers)
//! change the run.

use std::path::PathBuf;
use std::time::Instant;

use farm_cli::Output;
use farm_cli::demo::{DemoArgs, render};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Progress as plain lines on stderr.
fn quiet() -> Output {
    Output {
        terminal: false,
        ..Output::new(false, false)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let frames: u32 = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let chunk_size = std::env::var("BENCH_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok());
    let scene = repo().join("samples/demo/demo.blend");
    let scratch = tempfile::tempdir()?;

    let bare_out = scratch.path().join("bare");
    let started = Instant::now();
    let status = std::process::Command::new("blender")
        .arg("-b")
        .arg(&scene)
        .arg("--disable-autoexec")
        .arg("-o")
        .arg(bare_out.join("frame_######"))
        .args(["-F", "OPEN_EXR", "-s", "1", "-e", &frames.to_string(), "-a"])
        .stdout(std::process::Stdio::null())
        .status()?;
    let bare = started.elapsed();
    anyhow::ensure!(status.success(), "bare blender failed");
    let rendered = std::fs::read_dir(&bare_out)?.count();
    anyhow::ensure!(
        rendered == frames as usize,
        "bare blender wrote {rendered} of {frames} frames"
    );

    let args = DemoArgs {
        frames: format!("1-{frames}"),
        workers: 2,
        chunk_size,
        scene: Some(scene),
        dir: scratch.path().join("farm"),
        blender: "blender".into(),
        listen: "127.0.0.1:0".parse()?,
        serve: false,
        parity: 0.0,
        tamper: None,
        i_am_a_test_cheater: false,
    };
    let rendered = render(&args, &quiet()).await?;
    rendered.farm.stop().await?;
    let report = rendered.report;
    let farm = report.wall;

    println!("farm overhead, {frames} frames of samples/demo/demo.blend");
    println!(
        "  bare `blender -b -a`:          {:.2} s",
        bare.as_secs_f64()
    );
    println!(
        "  farm, 2 workers (chunk {}):    {:.2} s (submit to job done)",
        report.job.job.chunk_size,
        farm.as_secs_f64()
    );
    println!(
        "  ratio farm / bare:             {:.3}",
        farm.as_secs_f64() / bare.as_secs_f64()
    );
    Ok(())
}
