//! The command line: global options and one subcommand per action.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use protocol::JobId;

/// What `farm --help` says about exit codes.
const EXIT_CODES: &str = "\
Exit codes:
  0  success (for --watch: the job ended done)
  1  any other failure
  2  usage error (unknown option, missing argument)
  3  bad input or refused by the coordinator (4xx), e.g. a bad frame spec,
     a missing token or a dependency missing on disk; nothing was uploaded
     when submit refuses before its upload
  4  the watched job ended failed or cancelled
  5  the coordinator cannot be reached or failed (connection refused, 5xx)

Settings come from flags, then FARM_URL / FARM_TOKEN, then the config file
(~/.config/farm/config.toml: url = \"...\", token = \"...\").";

/// The render farm's command line.
#[derive(Debug, Parser)]
#[command(name = "farm", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The coordinator's URL [default: http://127.0.0.1:8080].
    #[arg(long, env = "FARM_URL", global = true)]
    pub url: Option<String>,
    /// The API token (a submitter's or an admin's).
    #[arg(long, env = "FARM_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The config file [default: ~/.config/farm/config.toml].
    #[arg(long, env = "FARM_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print the API's JSON instead of tables, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// Say what is happening: requests, the Blender run.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// One action.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Commands that talk to a coordinator.
    #[command(flatten)]
    Api(ApiCommand),
    /// Run a farm on this machine (a coordinator and workers), render the
    /// sample scene on it, verify and bill its frames, print the summary.
    Demo(Box<crate::demo::DemoArgs>),
}

/// An action on a coordinator, with the URL and token from the settings.
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Submit a scene with every file it uses, and print the job's URL: a
    /// .blend (read with Blender), a .c4d saved with its assets (the
    /// project's folder is sent) or an Octane .orbx package.
    Submit(Box<SubmitArgs>),
    /// What a job of a .blend would take and cost on each node class, from
    /// the farm's history; nothing is uploaded (`--watch`, `--paused` do
    /// nothing here).
    Estimate(Box<SubmitArgs>),
    /// Render the same frames of a .blend on two or more node classes (one
    /// job per class) and compare them side by side: time to complete, cost
    /// per frame, parity of every frame with the first class's, or with the
    /// studio's own renders given by `--reference DIR` (`--watch` waits for
    /// the comparison and prints it).
    Benchmark(Box<BenchmarkArgs>),
    /// A benchmark's side-by-side report.
    BenchmarkReport {
        /// The benchmark.
        id: coordinator::benchmark::BenchmarkId,
        /// Print the report's CSV as the coordinator writes it.
        #[arg(long)]
        csv: bool,
    },
    /// Follow a job until it ends, with progress bars on a terminal.
    Watch {
        /// The job.
        id: JobId,
    },
    /// List jobs.
    Jobs,
    /// Show one job and its frames.
    Job {
        /// The job.
        id: JobId,
    },
    /// Hold a job: no new task starts.
    Pause {
        /// The job.
        id: JobId,
    },
    /// Let a paused job go on.
    Resume {
        /// The job.
        id: JobId,
    },
    /// Stop a job for good.
    Cancel {
        /// The job.
        id: JobId,
    },
    /// Put a job's failed frames back in the queue.
    Requeue {
        /// The job.
        id: JobId,
    },
    /// A job's cost report, per frame.
    Report {
        /// The job.
        id: JobId,
        /// Print the report's CSV as the coordinator writes it.
        #[arg(long)]
        csv: bool,
    },
    /// List the workers.
    Workers,
    /// What the farm offers: renderers, regions, node classes.
    #[command(name = "farm", visible_alias = "info")]
    Farm,
    /// The node classes the farm sells: device, price, speed.
    NodeClasses,
    /// Define or remove a node class (admins).
    #[command(subcommand)]
    NodeClass(crate::classes::ClassCommand),
}

/// `farm submit`'s arguments.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The scene: a .blend, a .c4d saved with its assets (File > Save
    /// Project with Assets: every file in its folder is sent) or an .orbx
    /// package.
    pub scene: PathBuf,
    /// The renderer [default: the scene's own: .blend blender, .c4d
    /// cinema4d, .orbx octane]; `octane` with a .blend renders it in
    /// OctaneRender for Blender.
    #[arg(long)]
    pub renderer: Option<protocol::Renderer>,
    /// Versions of the renderer the job may render on (`2024.4`, `>=4.1,
    /// <4.3`) [default: any].
    #[arg(long, value_name = "RANGE")]
    pub renderer_version: Option<String>,
    /// Cinema 4D: the take to render [default: the main take].
    #[arg(long)]
    pub take: Option<String>,
    /// Octane: the render target node to render [default: the package's
    /// only one].
    #[arg(long)]
    pub render_target: Option<String>,
    /// Samples per pixel, instead of the scene's (Blender, Octane).
    #[arg(long)]
    pub samples: Option<u32>,
    /// Frames (`1-250`, `1-250x5`, `1,5,10-12`) [default: a .blend's range;
    /// required for .c4d and .orbx scenes].
    #[arg(long)]
    pub frames: Option<String>,
    /// The job's name [default: the file's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Frames per task [default: the coordinator's].
    #[arg(long)]
    pub chunk: Option<u32>,
    /// 0 (lowest) to 100 [default: 50].
    #[arg(long)]
    pub priority: Option<u8>,
    /// Share of frames rendered twice to verify them, in percent.
    #[arg(long)]
    pub parity: Option<f64>,
    /// Regions to render in, comma-separated: ISO country codes, EU, EEA,
    /// UK, US, or regions `farm info` lists. Enforced by the farm.
    #[arg(long)]
    pub region: Option<String>,
    /// Node classes to render on, comma-separated, cheapest first (`farm
    /// info` lists them).
    #[arg(long)]
    pub node_class: Option<String>,
    /// GPU model to render on, as a device class (`rtx4090`, `h100`).
    #[arg(long)]
    pub gpu_model: Option<String>,
    /// Least GPU memory, MiB.
    #[arg(long = "min-vram")]
    pub min_vram_mib: Option<u64>,
    /// Create the job paused.
    #[arg(long)]
    pub paused: bool,
    /// Follow the job until it ends.
    #[arg(long)]
    pub watch: bool,
    /// The Blender that reads a .blend's dependencies.
    #[arg(long, env = "FARM_BLENDER", default_value = "blender")]
    pub blender: PathBuf,
}

/// `farm benchmark`'s arguments: `farm submit`'s, with the node classes.
#[derive(Debug, Args)]
pub struct BenchmarkArgs {
    /// A node class to render on; give two or more, the first is the
    /// baseline every other class is compared with (one is enough with
    /// `--reference`, which is then the baseline).
    #[arg(long = "class", value_name = "NODE_CLASS", required = true)]
    pub classes: Vec<String>,
    /// A folder of the studio's own renders of the frames, one EXR per
    /// frame (the frame is the last run of digits in the file's name:
    /// `shot_0007.exr` is frame 7), uploaded once the benchmark is created:
    /// every class is compared with them.
    #[arg(long, value_name = "DIR")]
    pub reference: Option<PathBuf>,
    /// The reference's name [default: the folder's name].
    #[arg(long, value_name = "NAME", requires = "reference")]
    pub reference_name: Option<String>,
    /// Render seconds per frame on the studio's farm, as the studio states
    /// them (shown as stated, never as observed).
    #[arg(long, value_name = "SECONDS", requires = "reference")]
    pub reference_seconds_per_frame: Option<f64>,
    /// Cost per frame on the studio's farm in the farm's currency
    /// (`0.40`), as the studio states it.
    #[arg(long, value_name = "AMOUNT", requires = "reference")]
    pub reference_cost_per_frame: Option<String>,
    /// Seconds the studio's farm took for the frames, as the studio states
    /// it.
    #[arg(long, value_name = "SECONDS", requires = "reference")]
    pub reference_time_to_complete: Option<f64>,
    /// The scene and the job's fields, as `farm submit` takes them.
    #[command(flatten)]
    pub submit: SubmitArgs,
}
