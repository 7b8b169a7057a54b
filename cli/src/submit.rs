//! `farm submit`: gather the scene's files (a .blend's read with
//! Blender), describe its bundle, have the job validated, upload only the
//! blobs the coordinator lacks, create the job. Nothing is uploaded before
//! the coordinator has accepted the job's fields.

use std::path::Path;

use protocol::{JobId, Renderer};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::Api;
use crate::args::SubmitArgs;
use crate::error::Failure;
use crate::output::Output;
use crate::scene::project::{ProjectError, SceneKind};
use crate::scene::{blender, bundle};
use crate::show;
use crate::upload::{self, Uploaded};
use crate::views::{BundleAnswer, Job, Validated};
use crate::watch;

/// The job, as `POST /api/v1/jobs` (and `/validate`) take it.
#[derive(Debug, Serialize)]
pub struct JobRequest<'a> {
    /// Display name.
    name: String,
    /// The described bundle.
    bundle: &'a str,
    /// The renderer.
    renderer: Renderer,
    /// Versions of the renderer.
    #[serde(skip_serializing_if = "Option::is_none")]
    renderer_version: Option<&'a str>,
    /// Cinema 4D's take.
    #[serde(skip_serializing_if = "Option::is_none")]
    take: Option<&'a str>,
    /// Octane's render target.
    #[serde(skip_serializing_if = "Option::is_none")]
    render_target: Option<&'a str>,
    /// Scene settings replaced for the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    overrides: Option<Value>,
    /// Frame spec.
    frames: String,
    /// Frames per task.
    #[serde(skip_serializing_if = "Option::is_none")]
    chunk_size: Option<u32>,
    /// 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<u8>,
    /// Parity rate, percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    parity_percent: Option<f64>,
    /// Created paused.
    paused: bool,
    /// Region.
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    /// Node class.
    #[serde(skip_serializing_if = "Option::is_none")]
    node_class: Option<&'a str>,
    /// GPU model.
    #[serde(skip_serializing_if = "Option::is_none")]
    gpu_model: Option<&'a str>,
    /// Least GPU memory, MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    min_vram_mib: Option<u64>,
}

/// What to tell people about the upload.
fn upload_line(uploaded: &Uploaded, bundle: &bundle::LocalBundle) -> String {
    let (files, total) = (bundle.files.len(), show::bytes(bundle.bytes()));
    if uploaded.blobs == 0 {
        format!(
            "uploaded nothing: the coordinator already has all {files} file(s) of the bundle ({total})"
        )
    } else if uploaded.paths.len() == files {
        format!("uploaded {files} file(s), {}", show::bytes(uploaded.bytes))
    } else {
        format!(
            "uploaded {} of {files} files, {} of {total} (the coordinator had the others): {}",
            uploaded.paths.len(),
            show::bytes(uploaded.bytes),
            uploaded.paths.join(", ")
        )
    }
}

/// A scene bundled on this machine, ready to send.
pub struct Prepared {
    /// The job's renderer.
    pub renderer: Renderer,
    /// What Blender said about a .blend (and the relative copy it made);
    /// `None` for a scene no program here reads.
    read: Option<blender::ReadScene>,
    /// The scene's extension.
    ext: &'static str,
    /// The files to send.
    pub(crate) local: bundle::LocalBundle,
}

impl Prepared {
    /// The frames a job of `args` renders: `--frames`, else a .blend's own
    /// range; a scene this machine cannot read needs `--frames`.
    pub fn frame_spec(&self, args: &SubmitArgs) -> Result<String, Failure> {
        match (&args.frames, &self.read) {
            (Some(frames), _) => Ok(frames.clone()),
            (None, Some(read)) => Ok(read.info.frame_spec()),
            (None, None) => Err(ProjectError::NeedsFrames { ext: self.ext }.into()),
        }
    }

    /// The output size Blender read, for a .blend.
    fn resolution(&self) -> Option<[u32; 2]> {
        self.read.as_ref().map(|read| read.info.resolution)
    }

    /// Describe the bundle to the coordinator (nothing is uploaded): its id
    /// and the blobs the coordinator lacks.
    pub async fn describe(&self, api: &Api) -> Result<BundleAnswer, Failure> {
        Ok(api.post("/api/v1/bundles", &self.local.manifest()).await?)
    }
}

/// Find the files of `scene`'s bundle (a .blend's with `blender`) and hash
/// them, for a job of `renderer` [default: the scene's own].
pub async fn prepare(
    blender: &Path,
    scene: &Path,
    renderer: Option<Renderer>,
    output: &Output,
) -> Result<Prepared, Failure> {
    let kind = SceneKind::of(scene)?;
    let renderer = kind.renderer(renderer)?;
    let read = if kind == SceneKind::Blend {
        let spinner = output.spinner("reading the scene's files with Blender");
        let read = blender::read_scene(blender, scene, output.verbose).await;
        spinner.finish_and_clear();
        Some(read?)
    } else {
        None
    };
    let spinner = output.spinner("hashing the scene's files");
    let local = match &read {
        Some(read) => {
            let info = &read.info;
            if info.relative_copy.is_some() {
                output.note(
                    "the scene names files by absolute paths: sending a copy with relative paths (your file is unchanged)",
                );
            }
            bundle::build(
                &info.blend,
                info.relative_copy.as_deref(),
                &info.dependencies,
            )
        }
        None => bundle::build(scene, None, &kind.dependencies(scene)),
    };
    spinner.finish_and_clear();
    let local = local?;
    if output.verbose {
        eprintln!("bundle root {}", local.root.display());
        for file in &local.files {
            eprintln!(
                "  {} {} ({})",
                file.hash,
                file.path,
                show::bytes(file.bytes)
            );
        }
    }
    Ok(Prepared {
        renderer,
        read,
        ext: kind.ext(),
        local,
    })
}

/// The job `args` ask for, of the scene `prepared` in the described bundle
/// `bundle`.
pub fn job_request<'a>(
    args: &'a SubmitArgs,
    prepared: &Prepared,
    bundle: &'a str,
) -> Result<JobRequest<'a>, Failure> {
    let name = args.name.clone().unwrap_or_else(|| {
        args.scene
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| prepared.local.main.clone())
    });
    Ok(JobRequest {
        name,
        bundle,
        renderer: prepared.renderer,
        renderer_version: args.renderer_version.as_deref(),
        take: args.take.as_deref(),
        render_target: args.render_target.as_deref(),
        overrides: args.samples.map(|samples| json!({ "samples": samples })),
        frames: prepared.frame_spec(args)?,
        chunk_size: args.chunk,
        priority: args.priority,
        parity_percent: args.parity,
        paused: args.paused,
        region: args.region.as_deref(),
        node_class: args.node_class.as_deref(),
        gpu_model: args.gpu_model.as_deref(),
        min_vram_mib: args.min_vram_mib,
    })
}

/// Describe the bundle, have the job validated, upload the missing blobs,
/// create the job and say so; the job's id.
pub async fn send(
    api: &Api,
    args: &SubmitArgs,
    prepared: &Prepared,
    output: &Output,
) -> Result<JobId, Failure> {
    let local = &prepared.local;
    // A missing --frames is said before anything is sent.
    prepared.frame_spec(args)?;
    let described = prepared.describe(api).await?;
    let request = job_request(args, prepared, &described.id)?;
    let validated: Validated = api.post("/api/v1/jobs/validate", &request).await?;
    let uploaded = upload::upload_missing(api, local, &described.missing, output).await?;
    let created: Value = api.post("/api/v1/jobs", &request).await?;
    let job: Job = api.parse(&created, "/api/v1/jobs")?;
    let url = api.url(&format!("/api/v1/jobs/{}", job.id));
    if output.json {
        output.json_line(&json!({
            "job": created,
            "url": url,
            "bundle": described.id,
            "tasks": validated.tasks,
            "bundle_files": local.files.len(),
            "bundle_bytes": local.bytes(),
            "uploaded_files": uploaded.paths,
            "uploaded_bytes": uploaded.bytes,
        }))?;
    } else {
        let size = prepared
            .resolution()
            .map(|[w, h]| format!(", {w}x{h} px"))
            .unwrap_or_default();
        output.say(&format!(
            "{} job {} {:?}: {} frame(s) ({}) in {} task(s){}{size}\n  {url}\n{}",
            prepared.renderer,
            job.id,
            job.name,
            validated.frame_count,
            job.frames,
            validated.tasks,
            if args.paused { ", paused" } else { "" },
            upload_line(&uploaded, local),
        ))?;
    }
    Ok(job.id)
}

/// Run `farm submit`.
pub async fn run(api: &Api, args: &SubmitArgs, output: &Output) -> Result<(), Failure> {
    let prepared = prepare(&args.blender, &args.scene, args.renderer, output).await?;
    let id = send(api, args, &prepared, output).await?;
    if args.watch {
        watch::follow(api, id, output, false).await?;
    }
    Ok(())
}
