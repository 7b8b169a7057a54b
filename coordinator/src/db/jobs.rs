//! Scenes and jobs: creating, listing, showing, and the user's controls
//! (pause, resume, cancel, requeue).

use protocol::{
    FrameSpec, JobId, OutputSpec, Overrides, Renderer, SceneHash, SceneOptions, TaskId,
    VersionRange, now_ms,
};
use rusqlite::{OptionalExtension, params};

use super::{Db, DbError, from_json, to_json};
use crate::auth::Tenant;
use crate::bundle::CheckedManifest;
use crate::model::{FrameCounts, FrameView, JobDetail, JobSummary, VerificationCounts};
use crate::placement::Placement;
use crate::split;
use crate::state::{CheckState, FrameState, JobState, TaskCounts, TaskState};

/// A validated job submission.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Display name.
    pub name: String,
    /// Uploaded scene.
    pub scene: SceneHash,
    /// Renderer.
    pub renderer: Renderer,
    /// Frames.
    pub frames: FrameSpec,
    /// Frames per task.
    pub chunk_size: u32,
    /// 0 to 100.
    pub priority: u8,
    /// EXR depth.
    pub output: OutputSpec,
    /// Overrides.
    pub overrides: Overrides,
    /// Render limit per task.
    pub task_timeout_secs: u64,
    /// Share of frames rendered twice, in basis points (0 to 10,000).
    pub parity_bp: u32,
    /// Its bundle, placement and starting state.
    pub options: JobOptions,
}

/// What a job may ask for beyond its scene and frames.
#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    /// The scene's bundle (its main file is the job's scene); `None` for a
    /// single-file scene.
    pub bundle: Option<CheckedManifest>,
    /// Where its frames may render.
    pub placement: Placement,
    /// Created paused: nothing is dispatched until it is resumed.
    pub paused: bool,
    /// The one worker that renders it (a class check's benchmark frame).
    pub pinned_worker: Option<protocol::WorkerId>,
    /// The renderer versions it may render on; `None` for any.
    pub renderer_version: Option<VersionRange>,
    /// What in the scene to render (a Cinema 4D take, an Octane render target).
    pub scene_options: SceneOptions,
}

const JOB_COLUMNS: &str = "id, name, scene_hash, renderer, frame_spec, frame_count, chunk_size, \
     priority, output, overrides, task_timeout_secs, state, created_ms, finished_ms, parity_bp, report_key, \
     bundle_id, region, node_class, tenant, gpu_model, min_vram_mib, renderer_version, scene_options";

fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(JobSummary, String, String, String)> {
    let id: String = row.get(0)?;
    let scene: String = row.get(2)?;
    let renderer: String = row.get(3)?;
    let output: String = row.get(8)?;
    let overrides: String = row.get(9)?;
    let bad = |what: &str, text: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("bad {what} {text:?}").into(),
        )
    };
    Ok((
        JobSummary {
            id: id.parse().map_err(|_| bad("job id", &id))?,
            name: row.get(1)?,
            scene: scene.parse().map_err(|_| bad("scene hash", &scene))?,
            renderer: renderer.parse().map_err(|_| bad("renderer", &renderer))?,
            frames: row.get(4)?,
            frame_count: row.get(5)?,
            chunk_size: row.get(6)?,
            priority: row.get(7)?,
            depth: Default::default(),
            overrides: Overrides::default(),
            task_timeout_secs: row.get(10)?,
            state: row.get(11)?,
            progress: FrameCounts::default(),
            created_ms: row.get(12)?,
            finished_ms: row.get(13)?,
            parity_percent: f64::from(row.get::<_, u32>(14)?) / 100.0,
            verification: VerificationCounts::default(),
            report_key: row.get(15)?,
            bundle: row.get(16)?,
            region: row.get(17)?,
            node_class: row.get(18)?,
            tenant: Some(row.get::<_, String>(19)?).filter(|t| !t.is_empty()),
            gpu_model: row.get(20)?,
            min_vram_mib: row.get(21)?,
            renderer_version: row.get(22)?,
            scene_options: SceneOptions::default(),
            waiting: None,
        },
        output,
        overrides,
        row.get(23)?,
    ))
}

/// A list as one column: comma-separated, `NULL` when empty.
fn joined(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(","))
}

impl Db {
    /// Record an uploaded scene. Returns false when it was already known.
    pub fn record_scene(&self, hash: &SceneHash, ext: &str, bytes: u64) -> Result<bool, DbError> {
        let inserted = self.lock().execute(
            "INSERT OR IGNORE INTO scenes (hash, ext, bytes, uploaded_ms) VALUES (?1, ?2, ?3, ?4)",
            params![hash.as_str(), ext, bytes, now_ms()],
        )?;
        Ok(inserted == 1)
    }

    /// The extension of a known scene.
    pub fn scene_ext(&self, hash: &SceneHash) -> Result<Option<String>, DbError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT ext FROM scenes WHERE hash = ?1",
                [hash.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Store a job without a tenant (an admin's), split into pending tasks,
    /// in one transaction.
    pub fn create_job(&self, job: &NewJob) -> Result<JobId, DbError> {
        self.create_job_for(job, None)
    }

    /// Store a job of `tenant` (`None`: an admin's), split into pending
    /// tasks, in one transaction.
    pub fn create_job_for(&self, job: &NewJob, tenant: Option<&Tenant>) -> Result<JobId, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let id = Self::insert_job(&tx, job, tenant)?;
        tx.commit()?;
        Ok(id)
    }

    /// Store a job of `tenant` split into pending tasks, inside `tx` (a
    /// benchmark stores its jobs in the transaction that stores it).
    pub(super) fn insert_job(
        tx: &rusqlite::Transaction<'_>,
        job: &NewJob,
        tenant: Option<&Tenant>,
    ) -> Result<JobId, DbError> {
        let id = JobId::new();
        let now = now_ms();
        let placement = &job.options.placement;
        let ext: String = tx
            .query_row(
                "SELECT ext FROM scenes WHERE hash = ?1",
                [job.scene.as_str()],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("scene {}", job.scene)))?;
        // The shared queue of a renderer is for its own format at any
        // version; a job that needs more goes to chosen workers only.
        let routed = !placement.is_anywhere()
            || job.options.pinned_worker.is_some()
            || job.options.renderer_version.is_some()
            || ext != job.renderer.native_format();
        tx.execute(
            "INSERT INTO jobs (id, name, scene_hash, renderer, frame_spec, frame_count, chunk_size, \
             priority, output, overrides, task_timeout_secs, state, created_ms, parity_bp, tenant, \
             bundle_id, bundle, region, node_class, gpu_model, min_vram_mib, routed, wants_gpu, \
             pinned_worker, renderer_version, scene_options) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
                     ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
            params![
                id.to_string(),
                job.name,
                job.scene.as_str(),
                job.renderer.as_str(),
                job.frames.as_str(),
                job.frames.frames().len(),
                job.chunk_size,
                job.priority,
                to_json(&job.output),
                to_json(&job.overrides),
                job.task_timeout_secs,
                if job.options.paused {
                    JobState::Paused
                } else {
                    JobState::Queued
                },
                now,
                job.parity_bp,
                tenant.map_or("", Tenant::as_str),
                job.options.bundle.as_ref().map(|b| b.id.as_str()),
                job.options.bundle.as_ref().map(|b| to_json(&b.manifest)),
                joined(&placement.regions),
                joined(&placement.node_classes),
                placement.gpu_model,
                placement.min_vram_mib,
                routed,
                placement.gpu_model.is_some()
                    || placement.min_vram_mib.is_some()
                    || super::node_classes::any_gpu(tx, &placement.node_classes)?,
                job.options.pinned_worker.map(|w| w.to_string()),
                job.options.renderer_version.as_ref().map(VersionRange::as_str),
                to_json(&job.options.scene_options),
            ],
        )?;
        if let Some(bundle) = &job.options.bundle {
            let mut blob_stmt =
                tx.prepare("INSERT OR IGNORE INTO job_blobs (job_id, hash) VALUES (?1, ?2)")?;
            for file in &bundle.manifest.files {
                blob_stmt.execute(params![id.to_string(), file.hash.as_str()])?;
            }
        }
        {
            let mut task_stmt = tx.prepare(
                "INSERT INTO tasks (id, job_id, seq, frames, state, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut frame_stmt = tx.prepare(
                "INSERT INTO frames (job_id, frame, pos, task_id, state) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let job_id = id.to_string();
            let mut pos = 0usize;
            for (seq, frames) in split::chunks(job.frames.frames(), job.chunk_size)
                .iter()
                .enumerate()
            {
                let task_id = TaskId::new().to_string();
                task_stmt.execute(params![
                    task_id,
                    job_id,
                    seq,
                    to_json(frames),
                    TaskState::Pending,
                    now
                ])?;
                for frame in frames {
                    frame_stmt.execute(params![
                        job_id,
                        frame,
                        pos,
                        task_id,
                        FrameState::Pending
                    ])?;
                    pos += 1;
                }
            }
        }
        Ok(id)
    }

    /// Every job, newest first, with frame counts.
    pub fn list_jobs(&self) -> Result<Vec<JobSummary>, DbError> {
        let ids: Vec<String> = {
            let conn = self.lock();
            let mut stmt =
                conn.prepare_cached("SELECT id FROM jobs ORDER BY created_ms DESC, id DESC")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        self.job_summaries(ids)
    }

    /// The jobs of one tenant, newest first, with frame counts.
    pub fn list_tenant_jobs(&self, tenant: &Tenant) -> Result<Vec<JobSummary>, DbError> {
        let ids: Vec<String> = {
            let conn = self.lock();
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM jobs WHERE tenant = ?1 ORDER BY created_ms DESC, id DESC",
            )?;
            stmt.query_map([tenant.as_str()], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        self.job_summaries(ids)
    }

    /// The summaries of these jobs, skipping any that vanished.
    fn job_summaries(&self, ids: Vec<String>) -> Result<Vec<JobSummary>, DbError> {
        let mut jobs = Vec::with_capacity(ids.len());
        let mut workers = None;
        for id in ids {
            if let Some(job) = self.job_summary_with(&id, &mut workers)? {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    fn job_summary(&self, id: &str) -> Result<Option<JobSummary>, DbError> {
        self.job_summary_with(id, &mut None)
    }

    /// One job's summary; `workers` is read the first time a job waits,
    /// and kept for the next.
    fn job_summary_with(
        &self,
        id: &str,
        workers: &mut Option<super::waiting::Workers>,
    ) -> Result<Option<JobSummary>, DbError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                [id],
                job_from_row,
            )
            .optional()?;
        let Some((mut job, output, overrides, scene_options)) = row else {
            return Ok(None);
        };
        job.depth = from_json::<OutputSpec>(&output)?.depth;
        job.overrides = from_json(&overrides)?;
        job.scene_options = from_json(&scene_options)?;
        let mut stmt = conn.prepare_cached(
            "SELECT state, COUNT(*) FROM frames WHERE job_id = ?1 GROUP BY state",
        )?;
        for row in stmt.query_map([id], |r| {
            Ok((r.get::<_, FrameState>(0)?, r.get::<_, u64>(1)?))
        })? {
            let (state, n) = row?;
            job.progress.add(state, n);
        }
        let mut stmt = conn.prepare_cached(
            "SELECT check_state, COUNT(*) FROM frames WHERE job_id = ?1 GROUP BY check_state",
        )?;
        for row in stmt.query_map([id], |r| {
            Ok((r.get::<_, CheckState>(0)?, r.get::<_, u64>(1)?))
        })? {
            let (state, n) = row?;
            job.verification.add(state, n);
        }
        if matches!(job.state, JobState::Queued | JobState::Running) && job.progress.pending > 0 {
            if workers.is_none() {
                *workers = Some(super::waiting::Workers::read(&conn)?);
            }
            if let Some(workers) = workers {
                job.waiting = super::waiting::reason(&conn, id, workers)?;
            }
        }
        Ok(Some(job))
    }

    /// One job with its tasks and frames.
    pub fn job_detail(&self, id: JobId) -> Result<JobDetail, DbError> {
        let key = id.to_string();
        let job = self
            .job_summary(&key)?
            .ok_or_else(|| DbError::NotFound(format!("job {id}")))?;
        let tasks = self.task_counts(&key)?;
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT f.frame, f.state, f.task_id, COALESCE(r.worker_id, CASE WHEN f.state = 'rendering' THEN t.worker_id END), \
                    r.frame IS NOT NULL, COALESCE(r.checked_hash, r.pixel_hash), r.render_seconds, f.error, f.check_state, f.primary_replica, \
                    (SELECT COUNT(*) FROM results c WHERE c.job_id = f.job_id AND c.frame = f.frame) \
             FROM frames f JOIN tasks t ON t.id = f.task_id \
             LEFT JOIN results r ON r.job_id = f.job_id AND r.frame = f.frame AND r.replica = f.primary_replica \
             WHERE f.job_id = ?1 ORDER BY f.pos",
        )?;
        let frames = stmt
            .query_map([&key], |r| {
                let frame: i32 = r.get(0)?;
                let task: String = r.get(2)?;
                let worker: Option<String> = r.get(3)?;
                Ok(FrameView {
                    frame,
                    state: r.get(1)?,
                    task_id: task.parse().map_err(|_| {
                        rusqlite::Error::FromSqlConversionFailure(
                            2,
                            rusqlite::types::Type::Text,
                            task.into(),
                        )
                    })?,
                    worker_id: worker.and_then(|w| w.parse().ok()),
                    download: r
                        .get::<_, bool>(4)?
                        .then(|| format!("/api/v1/jobs/{key}/frames/{frame}/download")),
                    pixel_hash: r.get(5)?,
                    render_seconds: r.get(6)?,
                    error: r.get(7)?,
                    verification: r.get(8)?,
                    replica: r.get(9)?,
                    copies: r.get(10)?,
                })
            })?
            .collect::<Result<Vec<FrameView>, _>>()?;
        // A copy and what it hashes to are shown once the frame is accepted,
        // so nobody learns what a copy still being checked must look like.
        let settled = job.state.is_final();
        let frames = frames
            .into_iter()
            .map(|mut frame| {
                if !accepted(frame.verification, settled) {
                    frame.download = None;
                    frame.pixel_hash = None;
                }
                frame
            })
            .collect();
        Ok(JobDetail {
            job,
            tasks,
            frame_list: frames,
        })
    }

    /// The coordinator's copy of a frame's accepted EXR, `None` while the
    /// frame has none (not delivered, or not accepted yet).
    pub fn accepted_copy(&self, job: JobId, frame: i32) -> Result<Option<String>, DbError> {
        let key = job.to_string();
        let settled = self
            .job_summary(&key)?
            .ok_or_else(|| DbError::NotFound(format!("job {job}")))?
            .state
            .is_final();
        let conn = self.lock();
        let row: Option<(CheckState, String)> = conn
            .query_row(
                "SELECT f.check_state, r.object_key FROM frames f \
                 JOIN results r ON r.job_id = f.job_id AND r.frame = f.frame AND r.replica = f.primary_replica \
                 WHERE f.job_id = ?1 AND f.frame = ?2 AND r.intake_ms IS NOT NULL",
                params![key, frame],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(check, object)| accepted(check, settled).then_some(object)))
    }

    pub(super) fn task_counts(&self, job: &str) -> Result<TaskCounts, DbError> {
        super::transitions::counts_of(&self.lock(), job)
    }
}

/// Whether a frame's copy is accepted: verified, or settled unreplicated (or
/// unverifiable) in a finished job.
pub(super) fn accepted(check: CheckState, settled: bool) -> bool {
    check == CheckState::Verified
        || (settled && matches!(check, CheckState::Unchecked | CheckState::Unverifiable))
}
