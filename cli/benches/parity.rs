//! Verification overhead: the demo pipeline (coordinator, embedded queue,
//! local store, three workers, real Blender) on a 100-frame job at the
//! default parity rate, once with three honest workers and once with one
//! of them cheating. Prints the extra render time parity costs, the
//! effective replication rate and what the cheater earned.
//!
//! `cargo bench -p farm-cli --bench parity` from the repository root.
//! `BENCH_FRAMES` (default 100), `BENCH_PARITY` (percent, default 5) and
//! `BENCH_TAMPER` (`patch`, `brightness`, `stale` or `black`, default
//! `patch`) change the run.

use std::path::PathBuf;

use clap::ValueEnum;
use farm_cli::Output;
use farm_cli::demo::{DemoArgs, DemoReport, fresh_dir, render};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn print(label: &str, report: &DemoReport) {
    let totals = &report.cost.totals;
    let extra = totals.total_render_seconds - totals.billed_render_seconds;
    println!("{label}");
    println!(
        "  job:                      {} after {:.1} s wall",
        report.job.job.state,
        report.wall.as_secs_f64()
    );
    println!(
        "  frames replicated:        {} of {} ({:.1}% effective)",
        totals.frames_replicated, totals.frames_done, totals.replication_percent
    );
    println!(
        "  frames verified:          {}",
        report.job.job.verification.verified
    );
    println!(
        "  render seconds billed:    {:.2}",
        totals.billed_render_seconds
    );
    println!(
        "  render seconds in all:    {:.2} (+{:.1}% for verification)",
        totals.total_render_seconds,
        coordinator::billing::percent(extra, totals.billed_render_seconds)
    );
    println!(
        "  cost billed / overhead:   {} / {} {} ({:.1}%)",
        totals.cost_micros,
        totals.verification_overhead_micros,
        report.cost.currency,
        totals.verification_overhead_percent
    );
    for payout in &report.payouts {
        println!(
            "  {:<22}    delivered {:>3}, verified {:>3}, wrong {:>3}, earned {}, held {}{}",
            payout.name,
            payout.frames_delivered,
            payout.frames_verified,
            payout.frames_wrong,
            payout.earned_micros,
            payout.held_micros,
            if payout.blocklisted {
                "  BLOCKLISTED"
            } else {
                ""
            }
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let frames: u32 = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let parity: f64 = std::env::var("BENCH_PARITY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5.0);
    let tamper = worker::Tamper::from_str(
        &std::env::var("BENCH_TAMPER").unwrap_or_else(|_| "patch".into()),
        true,
    )
    .map_err(anyhow::Error::msg)?;
    let scratch = tempfile::tempdir()?;
    let args = |cheat: Option<worker::Tamper>| DemoArgs {
        // Each run on a farm of its own, in a folder made for it.
        dir: fresh_dir(
            &scratch
                .path()
                .join(if cheat.is_some() { "cheated" } else { "honest" }),
        )
        .expect("a scratch folder"),
        frames: format!("1-{frames}"),
        workers: 3,
        chunk_size: Some(5),
        scene: Some(repo().join("samples/sample.blend")),
        blender: "blender".into(),
        listen: "127.0.0.1:0".parse().expect("address"),
        serve: false,
        parity,
        tamper: cheat,
        i_am_a_test_cheater: cheat.is_some(),
    };
    println!(
        "verification overhead, {frames} frames of samples/sample.blend, parity {parity}%, chunks of 5\n"
    );
    let quiet = Output {
        terminal: false,
        ..Output::new(false, false)
    };
    let honest = render(&args(None), &quiet).await?;
    honest.farm.stop().await?;
    let honest = honest.report;
    print("three honest workers:", &honest);
    let cheated = render(&args(Some(tamper)), &quiet).await?;
    cheated.farm.stop().await?;
    let cheated = cheated.report;
    println!();
    print(
        &format!("one of three workers cheating ({tamper:?}):"),
        &cheated,
    );
    Ok(())
}
