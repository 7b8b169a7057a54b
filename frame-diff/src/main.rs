//! `frame-diff A B`: compare two renders like OpenImageIO's `idiff`, plus
//! tiles, HDR-FLIP and a parity verdict.
//!
//! Exit codes are `idiff`'s: 0 pass, 1 warning, 2 failure (under the
//! `--fail`/`--warn` family of thresholds), 3 images of different sizes or
//! without a common channel, 4 a file could not be read. With
//! `--verdict-exit` the code follows the verdict instead: 0 identical or
//! within tolerance, 1 inconclusive, 2 mismatch (3 and 4 unchanged).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use frame_diff::flip::{CpuBackend, FlipMode};
use frame_diff::{
    CompareConfig, IdiffThresholds, Verdict, compare_with, heatmap, read_image, report,
};

/// Compare two images (OpenEXR, PNG, TIFF, JPEG) like idiff, with per-tile
/// statistics, HDR-FLIP and a parity verdict.
#[derive(Debug, Parser)]
#[command(name = "frame-diff", version)]
struct Args {
    /// First (reference) image.
    a: PathBuf,
    /// Second (test) image.
    b: PathBuf,
    /// Failure threshold difference (idiff -fail).
    #[arg(long, default_value_t = 1e-6)]
    fail: f32,
    /// Allow this percentage of failures (idiff -failpercent).
    #[arg(long, default_value_t = 0.0)]
    failpercent: f32,
    /// Fail if any one value differs by more than this (idiff -hardfail).
    #[arg(long, default_value_t = f32::INFINITY)]
    hardfail: f32,
    /// Warning threshold difference (idiff -warn).
    #[arg(long, default_value_t = 1e-6)]
    warn: f32,
    /// Allow this percentage of warnings (idiff -warnpercent).
    #[arg(long, default_value_t = 0.0)]
    warnpercent: f32,
    /// Warn if any one value differs by more than this (idiff -hardwarn).
    #[arg(long, default_value_t = f32::INFINITY)]
    hardwarn: f32,
    /// Tile edge in pixels.
    #[arg(long, default_value_t = 64)]
    tile_size: u32,
    /// Skip HDR-FLIP.
    #[arg(long)]
    no_flip: bool,
    /// FLIP pixels per degree.
    #[arg(long, default_value_t = frame_diff::flip::DEFAULT_PPD)]
    ppd: f32,
    /// Print every number as JSON instead of the report.
    #[arg(long)]
    json: bool,
    /// Write a heat map of the per-pixel error (FLIP's magma colours) to this PNG.
    #[arg(long)]
    diff_image: Option<PathBuf>,
    /// Exit with the verdict (0 identical/within tolerance, 1 inconclusive, 2 mismatch).
    #[arg(long)]
    verdict_exit: bool,
    /// Print the numbers even when the images pass.
    #[arg(short, long)]
    verbose: bool,
    /// Print nothing but failures.
    #[arg(short, long)]
    quiet: bool,
}

/// idiff's exit code for a file that cannot be read or written.
const FILE_ERROR: u8 = 4;

/// idiff spells its long options with one dash; accept both spellings.
fn normalized_args() -> Vec<String> {
    const IDIFF: [&str; 6] = [
        "-fail",
        "-failpercent",
        "-hardfail",
        "-warn",
        "-warnpercent",
        "-hardwarn",
    ];
    std::env::args()
        .map(|a| {
            if IDIFF.contains(&a.as_str()) {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

fn is_ldr(path: &std::path::Path) -> bool {
    !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("exr"))
}

fn run(args: &Args) -> anyhow::Result<i32> {
    let (a, b) = rayon::join(|| read_image(&args.a), || read_image(&args.b));
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("frame-diff ERROR: {e}");
            return Ok(e.exit_code());
        }
    };
    let config = CompareConfig {
        idiff: IdiffThresholds {
            fail: args.fail,
            fail_percent: args.failpercent,
            hard_fail: args.hardfail,
            warn: args.warn,
            warn_percent: args.warnpercent,
            hard_warn: args.hardwarn,
        },
        tile_size: args.tile_size.max(1),
        flip: !args.no_flip,
        flip_mode: if is_ldr(&args.a) && is_ldr(&args.b) {
            FlipMode::Ldr
        } else {
            FlipMode::Hdr
        },
        ppd: args.ppd,
        ..CompareConfig::default()
    };
    let (comparison, flip_map) = compare_with(&a, &b, &config, &CpuBackend);
    if let Some(path) = &args.diff_image {
        if comparison.incomparable() {
            eprintln!("frame-diff: no heat map, the images cannot be compared");
        } else {
            let map =
                flip_map.unwrap_or_else(|| heatmap::abs_error_map(&a, &b, &comparison.channels));
            heatmap::write_png(path, &map, a.width, a.height).map_err(anyhow::Error::from)?;
        }
    }
    let code = if args.verdict_exit && !comparison.incomparable() {
        match comparison.verdict {
            Verdict::Identical | Verdict::WithinTolerance => 0,
            Verdict::Inconclusive => 1,
            Verdict::Mismatch => 2,
        }
    } else {
        comparison.idiff_exit_code()
    };
    if args.json {
        let doc = serde_json::json!({
            "a": args.a,
            "b": args.b,
            "exit_code": code,
            "config": config,
            "comparison": comparison,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).context("serialising the report")?
        );
    } else if !args.quiet || code != 0 {
        let text = report::human(
            &comparison,
            &args.a.display().to_string(),
            &args.b.display().to_string(),
            &config.idiff,
            args.verbose,
        );
        print!("{text}");
        println!(
            "{}",
            match code {
                0 => "PASS",
                1 => "WARNING",
                _ => "FAILURE",
            }
        );
    }
    Ok(code)
}

fn main() -> ExitCode {
    let args = Args::parse_from(normalized_args());
    match run(&args) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("frame-diff ERROR: {e:#}");
            ExitCode::from(FILE_ERROR)
        }
    }
}
