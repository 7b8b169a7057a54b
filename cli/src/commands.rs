//! The commands that read or steer what is on the farm: jobs, one job, the
//! job controls, cost reports, workers and what the farm offers. Each
//! prints a table or summary for people, or the API's JSON with `--json`.

use protocol::JobId;
use serde_json::Value;

use crate::api::Api;
use crate::error::Failure;
use crate::output::Output;
use crate::show;
use crate::table::{Align, Table};
use crate::views::{
    ControlAnswer, CostReport, EstimateCheck, FrameState, Job, JobDetail, Offer, Worker,
};

/// A job control: `pause`, `resume`, `cancel` or `requeue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Hold the job.
    Pause,
    /// Let it go on.
    Resume,
    /// Stop it for good.
    Cancel,
    /// Put its failed frames back in the queue.
    Requeue,
}

impl Control {
    /// The API's name for it.
    fn as_str(self) -> &'static str {
        match self {
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Cancel => "cancel",
            Control::Requeue => "requeue",
        }
    }
}

/// `farm jobs`.
pub async fn jobs(api: &Api, output: &Output) -> Result<(), Failure> {
    let path = "/api/v1/jobs";
    let (value, jobs): (Value, Vec<Job>) = api.get_both(path).await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    if jobs.is_empty() {
        return Ok(output.say("no jobs")?);
    }
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("NAME", Align::Left),
        ("STATE", Align::Left),
        ("FRAMES", Align::Right),
        ("FAILED", Align::Right),
        ("PRIORITY", Align::Right),
        ("CREATED (UTC)", Align::Left),
    ]);
    let mut waiting = Vec::new();
    for job in jobs {
        if let Some(reason) = &job.waiting {
            waiting.push(format!("{} waits: {reason}", job.id));
        }
        let state = if job.waiting.is_some() {
            format!("{} (waiting)", job.state)
        } else {
            job.state.to_string()
        };
        table.row(vec![
            job.id.to_string(),
            job.name,
            state,
            format!("{}/{}", job.progress.done, job.frame_count),
            job.progress.failed.to_string(),
            job.priority.to_string(),
            show::time(job.created_ms),
        ]);
    }
    let mut text = table.to_string();
    for line in waiting {
        text.push_str(&format!("\n{line}"));
    }
    Ok(output.say(&text)?)
}

/// `farm job ID`.
pub async fn job(api: &Api, id: JobId, output: &Output) -> Result<(), Failure> {
    let (value, detail): (Value, JobDetail) = api.get_both(&format!("/api/v1/jobs/{id}")).await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    let job = &detail.job;
    let mut lines = vec![
        format!("job       {} {:?}", job.id, job.name),
        format!(
            "state     {}, created {} UTC{}",
            job.state,
            show::time(job.created_ms),
            job.finished_ms
                .map(|end| format!(
                    ", ended after {}",
                    show::duration((end - job.created_ms) as f64 / 1000.0)
                ))
                .unwrap_or_default()
        ),
        format!(
            "frames    {} ({} frames, {} per task), priority {}, parity {}%",
            job.frames, job.frame_count, job.chunk_size, job.priority, job.parity_percent
        ),
        format!(
            "progress  {} done, {} rendering, {} pending, {} failed, {} cancelled; {} verified",
            job.progress.done,
            job.progress.rendering,
            job.progress.pending,
            job.progress.failed,
            job.progress.cancelled,
            job.verification.verified
        ),
    ];
    if let Some(renderer) = job.renderer_text() {
        lines.push(format!("renderer  {renderer}"));
    }
    if let Some(bundle) = &job.bundle {
        lines.push(format!("bundle    {bundle}"));
    }
    if job.region.is_some() || job.node_class.is_some() {
        lines.push(format!(
            "placement region {}, node class {}",
            job.region.as_deref().unwrap_or("any"),
            job.node_class.as_deref().unwrap_or("any")
        ));
    }
    if let Some(reason) = &job.waiting {
        lines.push(format!("waiting   {reason}"));
    }
    lines.push(String::new());
    for (state, frames) in show::frame_runs(&detail.frame_list) {
        lines.push(format!("  {:<10} {frames}", state.to_string()));
    }
    for frame in detail
        .frame_list
        .iter()
        .filter(|f| f.state == FrameState::Failed)
    {
        if let Some(error) = &frame.error {
            let first = error.lines().next().unwrap_or_default();
            lines.push(format!("  frame {} failed: {first}", frame.frame));
        }
    }
    Ok(output.say(&lines.join("\n"))?)
}

/// `farm pause|resume|cancel|requeue ID`.
pub async fn control(
    api: &Api,
    id: JobId,
    control: Control,
    output: &Output,
) -> Result<(), Failure> {
    let path = format!("/api/v1/jobs/{id}/{}", control.as_str());
    let value: Value = api.post_empty(&path).await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    let answer: ControlAnswer = api.parse(&value, &path)?;
    let requeued = answer
        .requeued_frames
        .map(|n| format!(" ({n} frame(s) back in the queue)"))
        .unwrap_or_default();
    Ok(output.say(&format!("job {id} is {}{requeued}", answer.state))?)
}

/// `farm report ID [--csv]`.
pub async fn report(api: &Api, id: JobId, csv: bool, output: &Output) -> Result<(), Failure> {
    if csv {
        let text = api
            .get_text(&format!("/api/v1/jobs/{id}/report.csv"))
            .await?;
        return Ok(output.raw(&text)?);
    }
    let (value, report): (Value, CostReport) =
        api.get_both(&format!("/api/v1/jobs/{id}/report")).await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    let currency = &report.currency;
    let mut table = Table::new(&[
        ("FRAME", Align::Right),
        ("STATE", Align::Left),
        ("VERIFICATION", Align::Left),
        ("WORKER", Align::Left),
        ("CLASS", Align::Left),
        ("SECONDS", Align::Right),
        ("COPIES", Align::Right),
        ("COST", Align::Right),
    ]);
    for frame in &report.frames {
        table.row(vec![
            frame.frame.to_string(),
            frame.state.to_string(),
            frame.verification.to_string(),
            frame.worker_name.clone().unwrap_or_default(),
            frame.device_class.clone().unwrap_or_default(),
            format!("{:.2}", frame.render_seconds),
            frame.copies.to_string(),
            show::money(frame.cost_micros, currency),
        ]);
    }
    let totals = &report.totals;
    let estimate = report
        .estimate
        .as_ref()
        .map(|e| estimate_line(e, currency))
        .unwrap_or_default();
    Ok(output.say(&format!(
        "cost report of job {id} {:?} ({})\n\n{table}\n{} of {} frames rendered, {} verified, {:.2} s billed\ncost {}, verification overhead {} ({:.1}%){estimate}",
        report.job_name,
        report.state,
        totals.frames_done,
        totals.frames,
        totals.frames_verified,
        totals.billed_render_seconds,
        show::money(totals.cost_micros, currency),
        show::money(totals.verification_overhead_micros, currency),
        totals.verification_overhead_percent,
    ))?)
}

/// The estimate-against-actual line of a cost report.
fn estimate_line(estimate: &EstimateCheck, currency: &str) -> String {
    let cost = match &estimate.estimated_cost_micros {
        Some(r) => format!(
            "{} ({}–{})",
            show::money(r.typical, currency),
            show::money(r.low, currency),
            show::money(r.high, currency)
        ),
        None => "none (no history)".to_owned(),
    };
    let time = match (&estimate.estimated_time_secs, estimate.actual_time_secs) {
        (Some(r), Some(actual)) => format!(
            "; time {} ({}–{}), took {}",
            show::duration(r.typical),
            show::duration(r.low),
            show::duration(r.high),
            show::duration(actual)
        ),
        (None, Some(actual)) => format!("; took {}", show::duration(actual)),
        _ => String::new(),
    };
    format!(
        "\nestimated on {}: cost {cost}, billed {}{time}",
        estimate.node_class,
        show::money(estimate.actual_cost_micros, currency)
    )
}

/// `farm workers`.
pub async fn workers(api: &Api, output: &Output) -> Result<(), Failure> {
    let (value, workers): (Value, Vec<Worker>) = api.get_both("/api/v1/workers").await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    if workers.is_empty() {
        return Ok(output.say("no workers")?);
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("OWNER", Align::Left),
        ("STATE", Align::Left),
        ("REGION", Align::Left),
        ("NODE CLASS", Align::Left),
        ("DEVICE", Align::Left),
        ("RENDERING", Align::Left),
        ("STRIKES", Align::Right),
        ("LAST SEEN (UTC)", Align::Left),
        ("ID", Align::Left),
    ]);
    for worker in workers {
        let rendering = match (worker.current_frame, worker.progress) {
            (Some(frame), Some(progress)) => format!("frame {frame} {:.0}%", progress * 100.0),
            (Some(frame), None) => format!("frame {frame}"),
            _ => String::new(),
        };
        let state = match &worker.reputation.blocklist_reason {
            Some(_) => format!("{} (blocklisted)", worker.state),
            None => worker.state.to_string(),
        };
        table.row(vec![
            worker.name,
            worker.owner,
            state,
            worker.region,
            worker.node_class,
            worker.reputation.device_class,
            rendering,
            worker.reputation.strikes.to_string(),
            show::time(worker.last_seen_ms),
            worker.id.to_string(),
        ]);
    }
    Ok(output.say(&table.to_string())?)
}

/// `farm farm` / `farm info`.
pub async fn offer(api: &Api, output: &Output) -> Result<(), Failure> {
    let (value, offer): (Value, Offer) = api.get_both("/api/v1/farm").await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    let list = |items: &[String]| {
        if items.is_empty() {
            "none (no worker enrolled yet)".to_owned()
        } else {
            items.join(", ")
        }
    };
    Ok(output.say(&format!(
        "coordinator   {}\nrenderers     {}\nregions       {}\nnode classes  {}",
        api.base(),
        list(&offer.renderers),
        list(&offer.regions),
        list(&offer.node_classes)
    ))?)
}
