//! `farm estimate`: read the scene with Blender as `farm submit` does,
//! describe its bundle (nothing is uploaded), and print what the job would
//! take and cost on each node class its placement admits, from the farm's
//! own history of render times.

use serde::Deserialize;
use serde_json::Value;

use crate::api::Api;
use crate::args::SubmitArgs;
use crate::error::Failure;
use crate::output::Output;
use crate::show;
use crate::submit::{job_request, prepare};
use crate::table::{Align, Table};

/// A low, typical and high figure.
#[derive(Debug, Deserialize)]
struct Range<T> {
    low: T,
    typical: T,
    high: T,
}

/// One node class's estimate, as the API gives it.
#[derive(Debug, Deserialize)]
struct ClassEstimate {
    node_class: String,
    workers: usize,
    basis: String,
    #[serde(default)]
    scaled_from: Option<String>,
    samples: usize,
    seconds_per_frame: Option<Range<f64>>,
    time_to_complete_secs: Option<Range<f64>>,
    cost_micros: Option<Range<i64>>,
}

/// The API's answer.
#[derive(Debug, Deserialize)]
struct Estimate {
    frames: usize,
    parity_percent: f64,
    currency: String,
    classes: Vec<ClassEstimate>,
}

/// `typical (low–high)` of `range` shown by `show`, or `no history`.
fn spread<T: Copy>(range: Option<&Range<T>>, show: impl Fn(T) -> String) -> String {
    match range {
        Some(r) => format!("{} ({}–{})", show(r.typical), show(r.low), show(r.high)),
        None => "no history".to_owned(),
    }
}

/// Where a class's figures come from, in words.
fn basis(class: &ClassEstimate) -> String {
    let what = match class.basis.as_str() {
        "scene" => format!("{} frames of this scene", class.samples),
        "farm" => format!("{} frames of other scenes", class.samples),
        _ => return "nothing rendered on it yet".to_owned(),
    };
    match &class.scaled_from {
        Some(source) => format!("{what} on {source}, scaled by speed score"),
        None => what,
    }
}

/// Run `farm estimate`.
pub async fn run(api: &Api, args: &SubmitArgs, output: &Output) -> Result<(), Failure> {
    let prepared = prepare(&args.blender, &args.scene, args.renderer, output).await?;
    prepared.frame_spec(args)?;
    let described = prepared.describe(api).await?;
    let request = job_request(args, &prepared, &described.id)?;
    let value: Value = api.post("/api/v1/jobs/estimate", &request).await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    let estimate: Estimate = api.parse(&value, "/api/v1/jobs/estimate")?;
    if estimate.classes.is_empty() {
        return Ok(output
            .say("no worker the job's placement admits is online now; it would wait for one")?);
    }
    let mut table = Table::new(&[
        ("NODE CLASS", Align::Left),
        ("WORKERS", Align::Right),
        ("PER FRAME", Align::Right),
        ("TIME TO COMPLETE", Align::Right),
        ("COST", Align::Right),
        ("FROM", Align::Left),
    ]);
    let currency = &estimate.currency;
    for class in &estimate.classes {
        table.row(vec![
            class.node_class.clone(),
            class.workers.to_string(),
            spread(class.seconds_per_frame.as_ref(), show::duration),
            spread(class.time_to_complete_secs.as_ref(), show::duration),
            spread(class.cost_micros.as_ref(), |m| show::money(m, currency)),
            basis(class),
        ]);
    }
    output.say(&format!(
        "{} frame(s), {}% rendered twice to verify them; typical (fast–slow frames):\n{table}",
        estimate.frames, estimate.parity_percent
    ))?;
    Ok(())
}
