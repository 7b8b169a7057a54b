//! `farm demo`: the whole farm on one machine. A coordinator on the
//! embedded queue and a local-folder store, workers running real Blender in
//! this process, the sample scene (a .blend and its image texture) sent as a
//! bundle through the same code as `farm submit`, followed with the same
//! progress bars as `farm watch`, its frames verified by parity copies, and
//! a summary with the cost report and the payouts at the end.
//!
//! The API wants tokens: the demo's coordinator gets a random admin token,
//! which asks the API for a submitter token of tenant `demo`; the job is
//! sent and followed with that. Workers talk to the queue, not the API.
//! Logs go to `farm.log` in the demo's folder (`-v` prints them instead).

mod local;
mod sample;
mod summary;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coordinator::auth::IssuedToken;
use coordinator::billing::{CostReport, Payout};
use coordinator::model::JobDetail;
use protocol::JobId;
use serde_json::json;

pub use local::{LocalFarm, LocalFarmSpec};

use crate::api::Api;
use crate::args::SubmitArgs;
use crate::error::Failure;
use crate::output::Output;
use crate::settings::Settings;
use crate::{submit, watch};

/// How long the cost report may take to be written after the job ends.
const REPORT_WRITTEN: Duration = Duration::from_secs(60);

/// Options of `farm demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Frames to render (`1-12`, `1-24x2`, `1,5,10-12`).
    #[arg(long, default_value = "1-12")]
    pub frames: String,
    /// Number of local workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Frames per task; by default the frames are shared evenly between the workers.
    #[arg(long)]
    pub chunk_size: Option<u32>,
    /// A .blend to render instead of the sample scene built into `farm`
    /// (its files are collected as `farm submit` collects them).
    #[arg(long)]
    pub scene: Option<PathBuf>,
    /// Folder for the demo's database, queue, store, worker files and log
    /// (emptied first).
    #[arg(long, default_value = ".farm/demo")]
    pub dir: PathBuf,
    /// The Blender executable.
    #[arg(long, env = "FARM_BLENDER", default_value = "blender")]
    pub blender: PathBuf,
    /// Address for the API (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Keep the farm running after the job, until Ctrl-C, and print how to
    /// reach it.
    #[arg(long)]
    pub serve: bool,
    /// Share of frames rendered twice to verify them, in percent (new
    /// workers have all their frames verified until they have a streak).
    #[arg(long, default_value_t = 5.0)]
    pub parity: f64,
    /// Make the last worker a cheater that alters its frames this way, to
    /// see it caught. Needs `--i-am-a-test-cheater` and at least 3 workers;
    /// only in a build with the `tamper` feature.
    #[cfg(feature = "tamper")]
    #[arg(long, value_enum, requires = "i_am_a_test_cheater")]
    pub tamper: Option<worker::Tamper>,
    /// Confirms `--tamper`: one demo worker cheats on purpose.
    #[cfg(feature = "tamper")]
    #[arg(long)]
    pub i_am_a_test_cheater: bool,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The frame spec.
    #[error("{0}")]
    Frames(String),
    /// A cheater without two honest workers to outvote it.
    #[error("--tamper needs --workers 3 or more: two honest workers must outvote the cheater")]
    TooFewForTamper,
    /// The demo's folder.
    #[error("cannot empty the demo's folder {}: {source}", path.display())]
    Clear {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the demo.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The coordinator or a worker did not start.
    #[error("cannot start the demo farm: {0}")]
    Start(String),
    /// The API's address.
    #[error("cannot listen on {0}: {1}; pass another --listen address")]
    Listen(SocketAddr, std::io::Error),
    /// Workers that never sent a heartbeat.
    #[error(
        "only {online} of {count} demo workers came online within {seconds} s; the log says why"
    )]
    WorkersSilent {
        /// Online.
        online: usize,
        /// Started.
        count: usize,
        /// How long the demo waited.
        seconds: u64,
    },
    /// A worker stopped with an error.
    #[error("a demo worker failed: {0}")]
    Worker(String),
    /// The coordinator stopped with an error.
    #[error("the demo's coordinator failed: {0}")]
    Coordinator(String),
}

/// `POST /api/v1/sign-in-links`'s answer.
#[derive(Debug, serde::Deserialize)]
struct SignInLink {
    /// The path that signs a browser in, once.
    path: String,
}

/// What the demo measured.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The finished job.
    pub job: JobDetail,
    /// Wall time from submission to the job's end.
    pub wall: Duration,
    /// Folder holding the job's EXRs.
    pub renders: PathBuf,
    /// The cost report's CSV file, once written.
    pub csv: Option<PathBuf>,
    /// The job's cost report.
    pub cost: CostReport,
    /// Every worker's payout.
    pub payouts: Vec<Payout>,
}

/// A demo that rendered its job, with its farm still running.
pub struct Rendered {
    /// What it measured.
    pub report: DemoReport,
    /// The farm, to stop (or keep serving).
    pub farm: LocalFarm,
}

/// Run `farm demo`: render, print the summary, serve if asked, stop.
pub async fn run(args: DemoArgs, verbose: bool) -> Result<(), Failure> {
    let dir = fresh_dir(&args.dir)?;
    let log = dir.join("farm.log");
    start_logging(&log, verbose)?;
    let mut output = Output::new(false, verbose);
    // Log lines on stderr would tear the progress bars apart.
    output.terminal &= !verbose;
    let args = DemoArgs { dir, ..args };
    let Rendered { report, farm } = render(&args, &output).await?;
    summary::print(&report, &farm, &log);
    if args.serve {
        let admin = Api::new(
            &Settings {
                url: farm.url.clone(),
                token: farm.admin_token.expose().to_owned(),
            },
            verbose,
        );
        let link: SignInLink = admin.post_empty("/api/v1/sign-in-links").await?;
        println!(
            "\nThe farm stays up until Ctrl-C.\n  UI:           {url}{link} (signs you in once, for 10 minutes)\n  \
             API:          {url}/api/v1/jobs/{job}\n  admin token:  {token}\n  \
             try:          FARM_URL={url} FARM_TOKEN={token} farm jobs",
            url = farm.url,
            link = link.path,
            job = report.job.job.id,
            token = farm.admin_token.expose(),
        );
        shutdown_signal().await;
    }
    farm.stop().await?;
    Ok(())
}

/// `path`, absolute, emptied and created.
pub fn fresh_dir(path: &Path) -> Result<PathBuf, DemoError> {
    let clear = |source| DemoError::Clear {
        path: path.to_owned(),
        source,
    };
    let dir = std::path::absolute(path).map_err(clear)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(clear)?;
    }
    std::fs::create_dir_all(&dir).map_err(clear)?;
    Ok(dir)
}

/// Send the coordinator's and workers' logs to `log`, or to stderr when
/// `verbose`. `RUST_LOG` chooses what is logged.
fn start_logging(log: &Path, verbose: bool) -> Result<(), DemoError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,lapin=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second demo in one process (a bench) keeps the first one's logger.
    let _ = if verbose {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        let file = std::fs::File::create(log).map_err(|source| DemoError::Write {
            path: log.to_owned(),
            source,
        })?;
        builder
            .with_ansi(false)
            .with_writer(Arc::new(file))
            .try_init()
    };
    Ok(())
}

/// Render the demo's job on a new local farm in `args.dir` (which should
/// be empty or absent) and leave the farm running. Progress goes to
/// `output`.
pub async fn render(args: &DemoArgs, output: &Output) -> Result<Rendered, Failure> {
    let frames = protocol::FrameSpec::parse(&args.frames, 100_000)
        .map_err(|e| DemoError::Frames(e.to_string()))?;
    let workers = args.workers.max(1);
    #[cfg(feature = "tamper")]
    if args.tamper.is_some() && workers < 3 {
        return Err(DemoError::TooFewForTamper.into());
    }
    let chunk = args
        .chunk_size
        .unwrap_or_else(|| frames.frames().len().div_ceil(workers) as u32);
    let scene = match &args.scene {
        Some(scene) => scene.clone(),
        None => sample::write(&args.dir.join("sample"))?,
    };
    let prepared = submit::prepare(&args.blender, &scene, None, output).await?;
    let spec = LocalFarmSpec {
        dir: args.dir.clone(),
        workers,
        blender: args.blender.clone(),
        listen: args.listen,
        #[cfg(feature = "tamper")]
        tamper: args.tamper,
    };
    let spinner = output.spinner(&format!("starting a coordinator and {workers} worker(s)"));
    let farm = LocalFarm::start(&spec).await;
    spinner.finish_and_clear();
    let farm = farm?;
    let submit = SubmitArgs {
        scene,
        frames: Some(args.frames.clone()),
        name: Some(match args.scene {
            Some(_) => "demo".into(),
            None => "demo: sample scene".into(),
        }),
        chunk: Some(chunk),
        priority: None,
        parity: Some(args.parity),
        region: None,
        node_class: None,
        gpu_model: None,
        min_vram_mib: None,
        renderer: None,
        renderer_version: None,
        take: None,
        render_target: None,
        samples: None,
        paused: false,
        watch: false,
        blender: args.blender.clone(),
    };
    match drive(&farm, &submit, &prepared, output).await {
        Ok(report) => Ok(Rendered { report, farm }),
        Err(error) => {
            let _ = farm.stop().await;
            Err(error)
        }
    }
}

/// Submit as a submitter of tenant `demo`, follow the job to its end, and
/// fetch its report and the payouts.
async fn drive(
    farm: &LocalFarm,
    submit: &SubmitArgs,
    prepared: &submit::Prepared,
    output: &Output,
) -> Result<DemoReport, Failure> {
    let api_as = |token: &str| {
        let settings = Settings {
            url: farm.url.clone(),
            token: token.to_owned(),
        };
        Api::new(&settings, output.verbose)
    };
    let admin = api_as(farm.admin_token.expose());
    let issued: IssuedToken = admin
        .post(
            "/api/v1/tokens",
            &json!({"role": "submitter", "tenant": "demo", "label": "demo submitter"}),
        )
        .await?;
    let api = api_as(issued.token.expose());
    let started = Instant::now();
    let id = submit::send(&api, submit, prepared, output).await?;
    watch::follow(&api, id, output, true).await?;
    let wall = started.elapsed();
    let job = wait_for_report(&api, id).await?;
    let cost: CostReport = api.get(&format!("/api/v1/jobs/{id}/report")).await?;
    let payouts: Vec<Payout> = admin.get("/api/v1/payouts").await?;
    Ok(DemoReport {
        renders: farm.renders(id),
        csv: job.job.report_key.as_deref().map(|key| farm.object(key)),
        job,
        wall,
        cost,
        payouts,
    })
}

/// The job once its cost report is written (or after [`REPORT_WRITTEN`]).
async fn wait_for_report(api: &Api, id: JobId) -> Result<JobDetail, Failure> {
    let deadline = Instant::now() + REPORT_WRITTEN;
    loop {
        let detail: JobDetail = api.get(&format!("/api/v1/jobs/{id}")).await?;
        if detail.job.report_key.is_some() || Instant::now() > deadline {
            return Ok(detail);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
