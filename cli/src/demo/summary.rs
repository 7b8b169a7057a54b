//! The demo's closing summary: the render, the parity checks, the cost
//! report and the workers' payouts.

use std::collections::HashSet;
use std::path::Path;

use super::{DemoReport, LocalFarm};

/// Print everything the demo did on `farm`, whose log is `log`.
pub fn print(report: &DemoReport, farm: &LocalFarm, log: &Path) {
    print_render(report, farm, log);
    print_parity(report);
    print_costs(report);
    print_payouts(report);
}

fn print_render(report: &DemoReport, farm: &LocalFarm, log: &Path) {
    let frames = &report.job.frame_list;
    let render_total: f64 = frames.iter().filter_map(|f| f.render_seconds).sum();
    let workers: HashSet<_> = frames.iter().filter_map(|f| f.worker_id).collect();
    println!(
        "\nDemo finished: job {} is {}",
        report.job.job.id, report.job.job.state
    );
    println!("  frames rendered:      {}", frames.len());
    println!("  workers used:         {}", workers.len());
    println!("  wall time:            {:.1} s", report.wall.as_secs_f64());
    println!(
        "  render time / frame:  {:.2} s (average over frames)",
        render_total / frames.len().max(1) as f64
    );
    println!(
        "  wall time / frame:    {:.2} s",
        report.wall.as_secs_f64() / frames.len().max(1) as f64
    );
    println!("  EXRs:                 {}", report.renders.display());
    println!(
        "  API (while running):  {}/api/v1/jobs/{}",
        farm.url, report.job.job.id
    );
    println!("  log:                  {}", log.display());
}

fn print_parity(report: &DemoReport) {
    let counts = &report.job.job.verification;
    let totals = &report.cost.totals;
    println!(
        "\nParity (job rate {}%, every frame of a new worker is checked):",
        report.job.job.parity_percent
    );
    println!(
        "  frames replicated:    {} of {} ({:.0}% effective)",
        totals.frames_replicated, totals.frames_done, totals.replication_percent
    );
    println!("  verified:             {}", counts.verified);
    println!("  not checked:          {}", counts.unchecked);
    if counts.unverifiable > 0 {
        println!(
            "  unverifiable:         {} (no second worker of the same device family)",
            counts.unverifiable
        );
    }
    if counts.non_deterministic > 0 {
        println!("  non-deterministic:    {}", counts.non_deterministic);
    }
    for payout in report.payouts.iter().filter(|p| p.blocklisted) {
        println!(
            "  BLOCKLISTED:          {} ({} strikes, {} of its frames found wrong or rejected)",
            payout.name, payout.strikes, payout.frames_wrong
        );
    }
}

fn print_costs(report: &DemoReport) {
    let cost = &report.cost;
    let totals = &cost.totals;
    println!("\nCost report ({}):", cost.currency);
    println!("  frame  verification       worker            class   seconds        cost");
    for frame in &cost.frames {
        println!(
            "  {:>5}  {:<17}  {:<16}  {:<6}  {:>7.2}  {:>10}",
            frame.frame,
            frame.verification.to_string(),
            frame.worker_name.as_deref().unwrap_or("-"),
            frame.device_class.as_deref().unwrap_or("-"),
            frame.render_seconds,
            frame.cost_micros.to_string()
        );
    }
    println!(
        "  total billed:          {} {} for {:.2} render seconds",
        totals.cost_micros, cost.currency, totals.billed_render_seconds
    );
    println!(
        "  verification overhead: {} {} ({:.1}%, {:.2} extra render seconds)",
        totals.verification_overhead_micros,
        cost.currency,
        totals.verification_overhead_percent,
        totals.total_render_seconds - totals.billed_render_seconds
    );
    match &report.csv {
        Some(csv) => println!("  CSV:                   {}", csv.display()),
        None => println!("  CSV:                   not written yet"),
    }
}

fn print_payouts(report: &DemoReport) {
    println!("\nWorker payouts ({}):", report.cost.currency);
    println!("  worker            delivered  verified  wrong      earned        held   forfeited");
    for payout in &report.payouts {
        println!(
            "  {:<16}  {:>9}  {:>8}  {:>5}  {:>10}  {:>10}  {:>10}",
            payout.name,
            payout.frames_delivered,
            payout.frames_verified,
            payout.frames_wrong,
            payout.earned_micros.to_string(),
            payout.held_micros.to_string(),
            payout.forfeited_micros.to_string()
        );
    }
}
