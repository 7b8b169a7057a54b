//! `coordinator demo`: the whole farm on one machine. A coordinator on the
//! embedded queue and a local-folder store, in-process workers running real
//! Blender, the sample scene submitted through the HTTP API, its frames
//! verified by parity copies, and a summary with the cost report at the end.
//!
//! The API wants tokens: the demo makes a random admin token for its
//! coordinator (`auth.admin_token`), asks the API for a submitter token of
//! tenant `demo`, and uploads, submits and watches with that. Workers talk
//! to the queue, not the API, and need none.

mod summary;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use protocol::JobId;
use queue::QueueConfig;
use storage::StoreConfig;
use tokio::sync::watch;

use crate::auth::Token;
use crate::billing::{CostReport, Payout};
use crate::config::Config;
use crate::db::Db;
use crate::model::{JobDetail, JobSummary};
use crate::state::JobState;

/// Options of `coordinator demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Frames to render (Deadline syntax).
    #[arg(long, default_value = "1-12")]
    pub frames: String,
    /// Number of local workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Frames per task; by default the frames are shared evenly between the workers.
    #[arg(long)]
    pub chunk_size: Option<u32>,
    /// The scene to render.
    #[arg(long, default_value = "samples/sample.blend")]
    pub scene: PathBuf,
    /// Folder for the demo's database, queue, store and worker files (emptied first).
    #[arg(long, default_value = ".farm/demo")]
    pub dir: PathBuf,
    /// The Blender executable.
    #[arg(long, default_value = "blender")]
    pub blender: PathBuf,
    /// Address for the API (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Keep the coordinator and workers running after the job, until Ctrl-C.
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

/// What the demo measured.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The finished job.
    pub job: JobDetail,
    /// Wall time from submission to the job's end.
    pub wall: Duration,
    /// Folder holding the job's EXRs.
    pub renders: PathBuf,
    /// API address.
    pub api: String,
    /// The job's cost report.
    pub cost: CostReport,
    /// Every worker's payout.
    pub payouts: Vec<Payout>,
    /// The admin token of the demo's coordinator.
    pub admin_token: Token,
}

/// What the demo fetched before stopping.
struct Finished {
    job: JobDetail,
    wall: Duration,
    cost: CostReport,
    payouts: Vec<Payout>,
}

/// Run the demo, print its progress and summary.
pub async fn run(
    args: DemoArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let report = render(&args, true).await?;
    summary::print(&report);
    if args.serve {
        println!(
            "\nServing the API at {} — press Ctrl-C to stop.\n\
             Admin token (send as `Authorization: Bearer <token>`): {}",
            report.api,
            report.admin_token.expose()
        );
        shutdown.await;
    }
    Ok(())
}

/// Run the demo pipeline: start everything, submit, wait, stop. With
/// `verbose`, print a line per finished frame.
pub async fn render(args: &DemoArgs, verbose: bool) -> anyhow::Result<DemoReport> {
    let scene = std::fs::read(&args.scene).with_context(|| {
        format!(
            "cannot read the sample scene {}; run the demo from the repository root, or pass --scene",
            args.scene.display()
        )
    })?;
    let dir = std::path::absolute(&args.dir)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let frames = protocol::FrameSpec::parse(&args.frames, 100_000)?;
    let workers = args.workers.max(1);
    #[cfg(feature = "tamper")]
    if args.tamper.is_some() && workers < 3 {
        bail!("--tamper needs --workers 3 or more: two honest workers must outvote the cheater");
    }
    let chunk_size = args
        .chunk_size
        .unwrap_or_else(|| frames.frames().len().div_ceil(workers) as u32);

    let admin_token = Token::generate()?;
    let mut config = Config {
        listen: args.listen,
        database: dir.join("coordinator.sqlite"),
        queue: QueueConfig::Embedded {
            path: dir.join("queue.sqlite"),
        },
        store: StoreConfig::local(&dir.join("store")),
        ..Config::default()
    };
    config.auth.admin_token = Some(admin_token.clone());
    let admin = bearer_client(&admin_token)?;
    let broker = queue::connect(&config.queue).await?;
    let storage = storage::open_granting(&config.store, None)?;
    let db = Db::open(&config.database)?;
    let farm = crate::server::open_with(config.clone(), db, broker.clone(), storage).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let api = format!("http://{}", listener.local_addr()?);

    let (stop, stopped) = watch::channel(false);
    let wait_stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let server = tokio::spawn(crate::server::run(
        listener,
        farm.clone(),
        wait_stop(stopped.clone()),
    ));
    // Workers sharing this machine share its cores instead of each starting
    // a Blender that uses all of them.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let render_threads = (cores / workers).max(1) as u32;
    let mut worker_tasks = Vec::new();
    for n in 1..=workers {
        // Each demo worker stands for another provider, so parity copies
        // (which always go to another owner) have somewhere to go.
        let owner = format!("demo-provider-{n}");
        let name = format!("demo-worker-{n}");
        let terms = crate::db::EnrollmentTerms {
            owner: owner.clone(),
            region: "local".into(),
            node_classes: vec!["standard".into()],
            device_classes: vec!["cpu".into()],
        };
        let token = farm
            .issue_enrollment(terms, Some(1), None, "demo".into())
            .await?;
        let enrolled = farm.enroll(&token, &name).await?;
        let queue::Granted::InProcess(worker_broker) = enrolled.queue else {
            anyhow::bail!("the demo runs its workers on the embedded queue");
        };
        let worker_config = worker::WorkerConfig {
            id: Some(enrolled.worker.id),
            name,
            owner,
            blender: args.blender.clone(),
            render_threads: Some(render_threads),
            work_dir: dir.join(format!("worker-{n}")),
            cache_dir: Some(dir.join("scene-cache")),
            heartbeat_secs: 2,
            queue: config.queue.clone(),
            #[cfg(feature = "tamper")]
            tamper: args.tamper.filter(|_| n == workers),
            ..worker::WorkerConfig::default()
        };
        worker_tasks.push(tokio::spawn(worker::run(
            worker_config,
            worker_broker,
            wait_stop(stopped.clone()),
        )));
    }

    let outcome = match wait_for_workers(&admin, &api, workers).await {
        Ok(()) => submit_and_wait(&admin, &api, &scene, args, chunk_size, verbose).await,
        Err(error) => Err(error),
    };
    let _ = stop.send(true);
    for task in worker_tasks {
        task.await?.context("a demo worker failed")?;
    }
    server.await??;
    let Finished {
        job,
        wall,
        cost,
        payouts,
    } = outcome?;
    let renders = dir
        .join("store")
        .join("renders")
        .join(job.job.id.to_string());
    Ok(DemoReport {
        job,
        wall,
        renders,
        api,
        cost,
        payouts,
        admin_token,
    })
}

/// An HTTP client that sends `token` with every request.
fn bearer_client(token: &Token) -> anyhow::Result<reqwest::Client> {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))?;
    value.set_sensitive(true);
    let headers = reqwest::header::HeaderMap::from_iter([(reqwest::header::AUTHORIZATION, value)]);
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// Ask the API, as admin, for a submitter token of tenant `demo`.
async fn submitter_token(admin: &reqwest::Client, api: &str) -> anyhow::Result<Token> {
    let response = admin
        .post(format!("{api}/api/v1/tokens"))
        .json(
            &serde_json::json!({"role": "submitter", "tenant": "demo", "label": "demo submitter"}),
        )
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "the coordinator refused to make a submitter token: {}",
            response.text().await?
        );
    }
    let issued: crate::auth::IssuedToken = response.json().await?;
    Ok(issued.token)
}

/// Wait until `count` workers have announced themselves, so the measured
/// time is the farm's, not the workers' start-up.
async fn wait_for_workers(http: &reqwest::Client, api: &str, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let workers: Vec<serde_json::Value> = http
            .get(format!("{api}/api/v1/workers"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if workers.iter().filter(|w| w["state"] == "online").count() >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the demo workers did not start within 60 s; see the log above for why");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Upload and submit as a submitter, wait for the job and its report, and
/// fetch the payouts as admin.
async fn submit_and_wait(
    admin: &reqwest::Client,
    api: &str,
    scene: &[u8],
    args: &DemoArgs,
    chunk_size: u32,
    verbose: bool,
) -> anyhow::Result<Finished> {
    let http = bearer_client(&submitter_token(admin, api).await?)?;
    let filename = args
        .scene
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("scene.blend");
    let uploaded: serde_json::Value = http
        .post(format!("{api}/api/v1/scenes?filename={filename}"))
        .header("content-type", "application/octet-stream")
        .body(scene.to_vec())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let started = Instant::now();
    let response = http
        .post(format!("{api}/api/v1/jobs"))
        .json(&serde_json::json!({
            "name": "demo: sample scene",
            "scene": uploaded["hash"],
            "renderer": "blender",
            "frames": args.frames,
            "chunk_size": chunk_size,
            "parity_percent": args.parity,
        }))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "the coordinator refused the job: {}",
            response.text().await?
        );
    }
    let job: JobSummary = response.json().await?;
    if verbose {
        println!(
            "Submitted job {} ({} frames, {} per task) to {api}",
            job.id, job.frame_count, chunk_size
        );
    }
    let detail = wait_for(&http, api, job.id, verbose).await?;
    let wall = started.elapsed();
    let detail = wait_for_report(&http, api, detail).await?;
    let get = |http: &reqwest::Client, path: String| {
        let request = http.get(format!("{api}{path}"));
        async move { request.send().await?.error_for_status() }
    };
    let cost: CostReport = get(&http, format!("/api/v1/jobs/{}/report", job.id))
        .await?
        .json()
        .await?;
    let payouts: Vec<Payout> = get(admin, "/api/v1/payouts".into()).await?.json().await?;
    Ok(Finished {
        job: detail,
        wall,
        cost,
        payouts,
    })
}

/// Wait (a few seconds at most) until the job's cost report is written.
async fn wait_for_report(
    http: &reqwest::Client,
    api: &str,
    mut detail: JobDetail,
) -> anyhow::Result<JobDetail> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while detail.job.report_key.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        detail = http
            .get(format!("{api}/api/v1/jobs/{}", detail.job.id))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
    }
    Ok(detail)
}

async fn wait_for(
    http: &reqwest::Client,
    api: &str,
    id: JobId,
    verbose: bool,
) -> anyhow::Result<JobDetail> {
    let mut printed = std::collections::HashSet::new();
    loop {
        let detail: JobDetail = http
            .get(format!("{api}/api/v1/jobs/{id}"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if verbose {
            for frame in detail
                .frame_list
                .iter()
                .filter(|f| f.render_seconds.is_some())
            {
                if printed.insert(frame.frame) {
                    println!(
                        "  frame {:>4} done in {:>6.2} s  ({}/{})",
                        frame.frame,
                        frame.render_seconds.unwrap_or_default(),
                        printed.len(),
                        detail.job.frame_count
                    );
                }
            }
        }
        if detail.job.state.is_final() {
            if detail.job.state != JobState::Done {
                let errors: Vec<_> = detail
                    .frame_list
                    .iter()
                    .filter_map(|f| f.error.as_deref())
                    .collect();
                bail!("the job ended {}: {}", detail.job.state, errors.join("\n"));
            }
            return Ok(detail);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
