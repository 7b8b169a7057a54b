//! OpenImageIO `idiff`'s numbers and thresholds.
//!
//! The meanings follow OIIO 2.4's `ImageBufAlgo::compare` and `idiff`:
//! errors are `|a - b|` per value, the mean and RMS are over every value of
//! every compared channel, PSNR is `20 log10(peak / rms)` where the peak is
//! the largest absolute value seen in either image but at least 1.0, the
//! maximum error is the first one found scanning pixels row by row and, in
//! each pixel, channels in OIIO's order (R, G, B, A first within a layer).
//! A pixel counts as over a threshold when any of its channels is.

use serde::Serialize;

use crate::metrics::{Acc, TileAcc};

/// `idiff`'s thresholds (`--fail`, `--failpercent`, `--hardfail`, `--warn`,
/// `--warnpercent`, `--hardwarn`), with `idiff`'s defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IdiffThresholds {
    /// A value differing by more than this fails (default 1e-6).
    pub fail: f32,
    /// Percentage of failing pixels allowed before the comparison fails (default 0).
    pub fail_percent: f32,
    /// Any one value differing by more than this fails (default infinity).
    pub hard_fail: f32,
    /// A value differing by more than this warns (default 1e-6).
    pub warn: f32,
    /// Percentage of warning pixels allowed before the comparison warns (default 0).
    pub warn_percent: f32,
    /// Any one value differing by more than this warns (default infinity).
    pub hard_warn: f32,
}

impl Default for IdiffThresholds {
    fn default() -> Self {
        Self {
            fail: 1e-6,
            fail_percent: 0.0,
            hard_fail: f32::INFINITY,
            warn: 1e-6,
            warn_percent: 0.0,
            hard_warn: f32::INFINITY,
        }
    }
}

/// `idiff`'s outcome; the discriminant is its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdiffStatus {
    /// Exit code 0: within the thresholds.
    Pass = 0,
    /// Exit code 1: over the warn thresholds.
    Warning = 1,
    /// Exit code 2: over the fail thresholds.
    Failure = 2,
}

/// Where the largest error is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaxErrorAt {
    /// Column.
    pub x: u32,
    /// Row (0 at the top).
    pub y: u32,
    /// Full channel name.
    pub channel: String,
}

/// What `idiff` prints, for one channel or for all compared channels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorStats {
    /// Mean absolute error per value.
    pub mean_error: f64,
    /// Root mean square error per value.
    pub rms_error: f64,
    /// Peak signal-to-noise ratio in dB (infinite, `null` in JSON, when identical).
    pub psnr: f64,
    /// Largest absolute error (infinite when a NaN or infinity differs).
    pub max_error: f64,
    /// Location of the largest error; `None` when there is no error.
    pub max_at: Option<MaxErrorAt>,
    /// Pixels over the warn threshold.
    pub warn_pixels: u64,
    /// Percentage of pixels over the warn threshold.
    pub warn_percent: f64,
    /// Pixels over the fail threshold.
    pub fail_pixels: u64,
    /// Percentage of pixels over the fail threshold.
    pub fail_percent: f64,
}

impl ErrorStats {
    /// The statistics of two identical images.
    pub fn identical() -> Self {
        Self {
            mean_error: 0.0,
            rms_error: 0.0,
            psnr: f64::INFINITY,
            max_error: 0.0,
            max_at: None,
            warn_pixels: 0,
            warn_percent: 0.0,
            fail_pixels: 0,
            fail_percent: 0.0,
        }
    }

    /// `idiff`'s verdict for these statistics over `pixels` pixels.
    ///
    /// As observed with OIIO 2.4.7's `idiff` (Debian bookworm): when no
    /// pixel is over the fail threshold the result is a pass, whatever the
    /// warn thresholds and `--hardfail`/`--hardwarn` say; otherwise it fails
    /// when too many pixels fail or the max error exceeds `--hardfail`, and
    /// warns when too many pixels warn or the max error exceeds `--hardwarn`.
    pub fn status(&self, t: &IdiffThresholds, pixels: u64) -> IdiffStatus {
        let npels = pixels.max(1) as f64;
        if self.fail_pixels == 0 {
            IdiffStatus::Pass
        } else if self.fail_pixels as f64 > t.fail_percent as f64 / 100.0 * npels
            || self.max_error > t.hard_fail as f64
        {
            IdiffStatus::Failure
        } else if self.warn_pixels as f64 > t.warn_percent as f64 / 100.0 * npels
            || self.max_error > t.hard_warn as f64
        {
            IdiffStatus::Warning
        } else {
            IdiffStatus::Pass
        }
    }
}

/// Rank of a channel in OpenImageIO's EXR channel order: within a layer
/// (the name up to its last dot), R, G, B, A come first, then the rest in
/// file (alphabetical) order.
pub(crate) fn oiio_rank(name: &str) -> (String, u8, String) {
    let (layer, base) = match name.rfind('.') {
        Some(dot) => (&name[..dot], &name[dot + 1..]),
        None => ("", name),
    };
    let special = match base.to_ascii_lowercase().as_str() {
        "r" | "red" => 0,
        "g" | "green" => 1,
        "b" | "blue" => 2,
        "a" | "alpha" => 3,
        _ => 4,
    };
    (layer.to_string(), special, base.to_string())
}

/// Combines the per-tile sums into per-channel and overall statistics.
///
/// `names` are the compared channels in pass order; `width * height` pixels.
pub(crate) fn summarize(
    tiles: &[TileAcc],
    names: &[String],
    width: u32,
    pixels: u64,
) -> (ErrorStats, Vec<ErrorStats>) {
    let mut per_channel = vec![Acc::default(); names.len()];
    for tile in tiles {
        for (total, acc) in per_channel.iter_mut().zip(&tile.channels) {
            total.merge(acc);
        }
    }
    let warn_pixels = tiles.iter().map(|t| t.warn_pixels).sum();
    let fail_pixels = tiles.iter().map(|t| t.fail_pixels).sum();
    let stats_of = |acc: &Acc, values: u64, warn: u64, fail: u64, channel: Option<&str>| {
        let n = values.max(1) as f64;
        let rms = (acc.sum_sq / n).sqrt();
        let peak = acc.max_val.max(1.0) as f64;
        let max_at = (acc.max_err > 0.0).then(|| MaxErrorAt {
            x: (acc.max_idx % width as usize) as u32,
            y: (acc.max_idx / width as usize) as u32,
            channel: channel.unwrap_or_default().to_string(),
        });
        ErrorStats {
            mean_error: acc.sum_abs / n,
            rms_error: rms,
            psnr: 20.0 * (peak / rms).log10(),
            max_error: acc.max_err as f64,
            max_at,
            warn_pixels: warn,
            warn_percent: 100.0 * warn as f64 / pixels.max(1) as f64,
            fail_pixels: fail,
            fail_percent: 100.0 * fail as f64 / pixels.max(1) as f64,
        }
    };
    let channels: Vec<ErrorStats> = per_channel
        .iter()
        .zip(names)
        .map(|(acc, name)| stats_of(acc, pixels, acc.warn, acc.fail, Some(name)))
        .collect();

    // Overall: sums add up; the maximum is the first in idiff's scan order.
    let mut overall = Acc::default();
    let mut best: Option<(usize, usize)> = None; // (channel, pixel)
    for (c, acc) in per_channel.iter().enumerate() {
        let mut without_max = *acc;
        without_max.max_err = 0.0;
        overall.merge(&without_max);
        if acc.max_err <= 0.0 && !acc.max_err.is_nan() {
            continue;
        }
        best = match best {
            None => Some((c, acc.max_idx)),
            Some((bc, bi)) => {
                let current = per_channel[bc].max_err;
                let earlier = acc.max_idx < bi
                    || (acc.max_idx == bi && oiio_rank(&names[c]) < oiio_rank(&names[bc]));
                if acc.max_err > current || (acc.max_err == current && earlier) {
                    Some((c, acc.max_idx))
                } else {
                    Some((bc, bi))
                }
            }
        };
    }
    if let Some((c, idx)) = best {
        overall.max_err = per_channel[c].max_err;
        overall.max_idx = idx;
    }
    let name = best.map(|(c, _)| names[c].as_str());
    let values = pixels * names.len() as u64;
    let overall = stats_of(&overall, values, warn_pixels, fail_pixels, name);
    (overall, channels)
}

/// Exact emulation of `idiff`'s sequential loop, used for the overall
/// numbers when NaN or infinite values differ (there the result depends on
/// visiting order: the first such value only sets the maximum to infinity,
/// later ones poison the sums as they do in `idiff`).
pub(crate) fn sequential(
    pairs: &[(&[f32], &[f32])],
    names: &[String],
    width: u32,
    t: &IdiffThresholds,
) -> ErrorStats {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&c| oiio_rank(&names[c]));
    let pixels = pairs.first().map_or(0, |p| p.0.len());
    let (mut total, mut total_sq) = (0f64, 0f64);
    let (mut max_err, mut max_at) = (0f64, None);
    let mut max_val = 1f32;
    let (mut nwarn, mut nfail) = (0u64, 0u64);
    for p in 0..pixels {
        let (mut warned, mut failed) = (false, false);
        for &c in &order {
            let (av, bv) = (pairs[c].0[p], pairs[c].1[p]);
            if !av.is_finite() || !bv.is_finite() {
                if av.is_nan() == bv.is_nan() && av.is_infinite() == bv.is_infinite() {
                    continue;
                }
                if max_err.is_finite() {
                    max_err = f64::INFINITY;
                    max_at = Some((p, c));
                    continue;
                }
            }
            let peak = av.abs().max(bv.abs());
            max_val = if max_val < peak { peak } else { max_val };
            let f = (av - bv).abs() as f64;
            total += f;
            total_sq += f * f;
            // NaN errors replace the maximum, as in idiff's `!(f <= max)`.
            if f.is_nan() || max_err.is_nan() || f > max_err {
                max_err = f;
                max_at = Some((p, c));
            }
            if !warned && (f.is_nan() || f > t.warn as f64) {
                nwarn += 1;
                warned = true;
            }
            if !failed && (f.is_nan() || f > t.fail as f64) {
                nfail += 1;
                failed = true;
            }
        }
    }
    let n = (pixels * names.len()).max(1) as f64;
    let rms = (total_sq / n).sqrt();
    ErrorStats {
        mean_error: total / n,
        rms_error: rms,
        psnr: 20.0 * (max_val as f64 / rms).log10(),
        max_error: max_err,
        max_at: max_at.map(|(p, c)| MaxErrorAt {
            x: (p % width as usize) as u32,
            y: (p / width as usize) as u32,
            channel: names[c].clone(),
        }),
        warn_pixels: nwarn,
        warn_percent: 100.0 * nwarn as f64 / pixels.max(1) as f64,
        fail_pixels: nfail,
        fail_percent: 100.0 * nfail as f64 / pixels.max(1) as f64,
    }
}
