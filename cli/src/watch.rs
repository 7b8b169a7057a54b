//! Following a job until it ends: `GET /api/v1/jobs/{id}` about once a
//! second, and its cost report whenever a frame was rendered since the
//! last one. On a terminal, progress bars (rendered, verified, failed, with
//! an ETA and the cost so far); elsewhere a plain line per change; with
//! `--json`, one JSON line per change. Optionally a line per frame as it
//! is rendered. When no online worker can render the job, a line saying
//! why (once, and again when the reason changes).

use std::collections::HashSet;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use protocol::JobId;
use serde_json::Value;

use crate::api::{Api, ApiError};
use crate::error::Failure;
use crate::output::Output;
use crate::show;
use crate::views::{CostReport, JobDetail, JobState};

/// Time between two looks at the job.
const POLL: Duration = Duration::from_secs(1);
/// Looks in a row that may fail (a coordinator restarting) before the
/// watch gives up.
const TOLERATED_FAILURES: u32 = 30;

/// The cost so far: the report's total, which counts the frames delivered
/// up to now (the report is computed afresh on every request).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cost {
    /// Micro-units.
    micros: i64,
    /// Currency.
    currency: String,
}

impl Cost {
    /// `0.001234 EUR`.
    fn text(&self) -> String {
        show::money(self.micros, &self.currency)
    }
}

/// Progress bars on a terminal.
struct Bars {
    multi: MultiProgress,
    rendered: ProgressBar,
    verified: Option<ProgressBar>,
    failed: ProgressBar,
    status: ProgressBar,
    started: bool,
}

impl Bars {
    /// Bars for a job of `frames` frames; a verified bar when it has parity.
    fn new(detail: &JobDetail) -> Self {
        let multi = MultiProgress::new();
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> ")
        };
        let frames = detail.job.frame_count;
        let bar = |name: &str, template: &str| {
            let bar = multi.add(ProgressBar::new(frames));
            bar.set_style(style(template));
            bar.set_prefix(name.to_owned());
            bar
        };
        let rendered = bar(
            "rendered",
            "{prefix:>9} [{bar:30}] {pos}/{len} frames  elapsed {elapsed}, ETA {eta}",
        );
        let verified = (detail.job.parity_percent > 0.0).then(|| {
            bar(
                "verified",
                "{prefix:>9} [{bar:30}] {pos}/{len} checked  {msg}",
            )
        });
        let failed = bar("failed", "{prefix:>9} [{bar:30}] {pos}/{len} frames");
        let status = multi.add(ProgressBar::new_spinner());
        status.set_style(style("{spinner} {msg}"));
        status.enable_steady_tick(Duration::from_millis(120));
        Self {
            multi,
            rendered,
            verified,
            failed,
            status,
            started: false,
        }
    }

    /// Show `detail` and `cost`.
    fn update(&mut self, detail: &JobDetail, cost: Option<&Cost>) {
        let job = &detail.job;
        self.rendered.set_position(job.progress.done);
        if !self.started {
            // Frames rendered before the watch began say nothing of the rate.
            self.rendered.reset_eta();
            self.started = true;
        }
        if let Some(verified) = &self.verified {
            let checked = job.verification.verified + job.verification.in_check();
            verified.set_length(checked);
            verified.set_position(job.verification.verified);
            verified.set_message(format!("{} being checked", job.verification.in_check()));
        }
        self.failed.set_position(job.progress.failed);
        self.status.set_message(status_text(detail, cost));
    }

    /// Leave the bars drawn as they ended.
    fn finish(&self) {
        for bar in [&self.rendered, &self.failed]
            .into_iter()
            .chain(self.verified.as_ref())
        {
            bar.abandon();
        }
        self.status.finish_and_clear();
    }
}

/// `running, 2 rendering, cost so far 0.000123 EUR`.
fn status_text(detail: &JobDetail, cost: Option<&Cost>) -> String {
    let job = &detail.job;
    let mut text = format!("job {} {}", job.id, job.state);
    if job.progress.rendering > 0 {
        text.push_str(&format!(", {} rendering", job.progress.rendering));
    }
    if let Some(cost) = cost {
        let so_far = if job.state.is_final() { "" } else { " so far" };
        text.push_str(&format!(", cost{so_far} {}", cost.text()));
    }
    text
}

/// One plain line for a log.
fn plain_line(detail: &JobDetail, cost: Option<&Cost>) -> String {
    let job = &detail.job;
    format!(
        "{}: {}/{} rendered, {} verified, {} failed",
        status_text(detail, cost),
        job.progress.done,
        job.frame_count,
        job.verification.verified,
        job.progress.failed
    )
}

/// The JSON line for a change: the job without its frame list, with the
/// cost so far.
fn json_line(mut value: Value, cost: Option<&Cost>) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("frame_list");
        if let Some(cost) = cost {
            object.insert("cost_micros".into(), cost.micros.into());
            object.insert("currency".into(), cost.currency.clone().into());
        }
    }
    value
}

/// How progress is shown.
enum Display {
    /// Bars on a terminal (made on the first look).
    Bars(Option<Bars>),
    /// A plain line on stderr when something changed.
    Lines(Option<String>),
    /// A JSON line on stdout when something changed.
    Json(Option<Value>),
}

impl Display {
    /// Show one look at the job.
    fn show(
        &mut self,
        output: &Output,
        value: &Value,
        detail: &JobDetail,
        cost: Option<&Cost>,
    ) -> std::io::Result<()> {
        match self {
            Display::Bars(bars) => bars
                .get_or_insert_with(|| Bars::new(detail))
                .update(detail, cost),
            Display::Lines(last) => {
                let line = plain_line(detail, cost);
                if last.as_deref() != Some(line.as_str()) {
                    eprintln!("{line}");
                    *last = Some(line);
                }
            }
            Display::Json(last) => {
                let line = json_line(value.clone(), cost);
                if last.as_ref() != Some(&line) {
                    output.json_line(&line)?;
                    *last = Some(line);
                }
            }
        }
        Ok(())
    }

    /// Print `line` for people, above the bars when there are bars.
    fn println(&self, line: &str) -> std::io::Result<()> {
        match self {
            Display::Bars(Some(bars)) => bars.multi.println(line),
            Display::Bars(None) | Display::Lines(_) => {
                eprintln!("{line}");
                Ok(())
            }
            Display::Json(_) => Ok(()),
        }
    }

    /// The job ended.
    fn finish(&self) {
        if let Display::Bars(Some(bars)) = self {
            bars.finish();
        }
    }
}

/// Lines for the frames of `detail` rendered since the last look (those
/// not in `printed`, which this adds them to).
fn new_frame_lines(detail: &JobDetail, printed: &mut HashSet<i32>) -> Vec<String> {
    let total = detail.job.frame_count;
    let mut lines = Vec::new();
    for frame in &detail.frame_list {
        let Some(seconds) = frame.render_seconds else {
            continue;
        };
        if printed.insert(frame.frame) {
            lines.push(format!(
                "  frame {:>5} rendered in {:>7}  ({}/{total})",
                frame.frame,
                show::duration(seconds),
                printed.len()
            ));
        }
    }
    lines
}

/// A line when the reason the job waits changed since the last look (kept
/// in `last`): the coordinator says why when no online worker can render
/// it, in words that stay the same while nothing changes.
fn waiting_change(last: &mut Option<String>, detail: &JobDetail) -> Option<String> {
    let now = detail.job.waiting.clone();
    if now == *last {
        return None;
    }
    let line = match &now {
        Some(reason) => Some(format!("waiting: {reason}")),
        // Paused or ended jobs wait for nobody: nothing to say.
        None => matches!(detail.job.state, JobState::Queued | JobState::Running)
            .then(|| "no longer waiting: a worker that can render the job is online".to_owned()),
    };
    *last = now;
    line
}

/// The cost report's total so far.
async fn cost(api: &Api, id: JobId) -> Result<Cost, ApiError> {
    let report: CostReport = api.get(&format!("/api/v1/jobs/{id}/report")).await?;
    Ok(Cost {
        micros: report.totals.cost_micros,
        currency: report.currency,
    })
}

/// One look at the job, and its cost when `rendered` frames changed.
async fn look(
    api: &Api,
    id: JobId,
    cost_at: &mut Option<(u64, Cost)>,
) -> Result<(Value, JobDetail), ApiError> {
    let (value, detail): (Value, JobDetail) = api.get_both(&format!("/api/v1/jobs/{id}")).await?;
    let done = detail.job.progress.done;
    if cost_at.as_ref().is_none_or(|(at, _)| *at != done) || detail.job.state.is_final() {
        *cost_at = Some((done, cost(api, id).await?));
    }
    Ok((value, detail))
}

/// Follow job `id` until it ends: `Ok` when it ends done, a
/// [`Failure::JobEnded`] when it ends failed or cancelled. With
/// `frame_lines`, print a line for each frame as it is rendered.
pub async fn follow(
    api: &Api,
    id: JobId,
    output: &Output,
    frame_lines: bool,
) -> Result<(), Failure> {
    let mut display = if output.json {
        Display::Json(None)
    } else if output.bars() {
        Display::Bars(None)
    } else {
        Display::Lines(None)
    };
    let mut cost_at: Option<(u64, Cost)> = None;
    let mut printed = HashSet::new();
    let mut waiting: Option<String> = None;
    let mut failures = 0;
    loop {
        let (value, detail) = match look(api, id, &mut cost_at).await {
            Ok(seen) => {
                failures = 0;
                seen
            }
            Err(error @ (ApiError::Unreachable { .. } | ApiError::Server { .. }))
                if failures < TOLERATED_FAILURES =>
            {
                failures += 1;
                if failures == 1 {
                    output.note(&format!("{error}; trying again"));
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
            Err(error) => {
                display.finish();
                return Err(error.into());
            }
        };
        let cost = cost_at.as_ref().map(|(_, cost)| cost);
        display.show(output, &value, &detail, cost)?;
        if frame_lines {
            for line in new_frame_lines(&detail, &mut printed) {
                display.println(&line)?;
            }
        }
        if let Some(line) = waiting_change(&mut waiting, &detail) {
            display.println(&line)?;
        }
        let job = &detail.job;
        if job.state.is_final() {
            display.finish();
            let seconds = job
                .finished_ms
                .map(|end| (end - job.created_ms) as f64 / 1000.0)
                .unwrap_or_default();
            output.say(&format!(
                "job {id} {}: {}/{} frames rendered in {}{}",
                job.state,
                job.progress.done,
                job.frame_count,
                show::duration(seconds),
                cost.map(|c| format!(", cost {}", c.text()))
                    .unwrap_or_default()
            ))?;
            return match job.state {
                JobState::Done => Ok(()),
                state => Err(Failure::JobEnded {
                    id,
                    state,
                    failed: job.progress.failed,
                    done: job.progress.done,
                    frames: job.frame_count,
                }),
            };
        }
        tokio::time::sleep(POLL).await;
    }
}
