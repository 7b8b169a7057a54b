//! `compare`: everything about two frames in one call.

use serde::Serialize;

use crate::error::FrameDiffError;
use crate::flip::{self, CpuBackend, FlipBackend, FlipMode, FlipPlan, RgbPlanes};
use crate::idiff::{self, ErrorStats, IdiffStatus, IdiffThresholds};
use crate::image::FrameImage;
use crate::metrics::{self, Pass};
use crate::noise;
use crate::tiles::{self, TileStats};
use crate::verdict::{Check, Reason, Verdict, VerdictThresholds, judge};

/// Everything that tunes a comparison. `CompareConfig::default()` is what
/// the coordinator uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareConfig {
    /// `idiff`'s thresholds (they decide [`Comparison::idiff_status`] only).
    pub idiff: IdiffThresholds,
    /// Tile edge in pixels (default 64).
    pub tile_size: u32,
    /// Compute HDR-FLIP (default true).
    pub flip: bool,
    /// HDR-FLIP for linear renders (default) or LDR-FLIP for 8/16-bit images.
    pub flip_mode: FlipMode,
    /// FLIP's pixels per degree (default 67.02: a 0.7 m wide 4K display at 0.7 m).
    pub ppd: f32,
    /// Verdict thresholds.
    pub verdict: VerdictThresholds,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            idiff: IdiffThresholds::default(),
            tile_size: 64,
            flip: true,
            flip_mode: FlipMode::Hdr,
            ppd: flip::DEFAULT_PPD,
            verdict: VerdictThresholds::default(),
        }
    }
}

/// `idiff`'s statistics of one channel, plus its bias.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelStats {
    /// Full channel name.
    pub name: String,
    /// Mean, RMS, PSNR, max error and threshold counts of this channel.
    #[serde(flatten)]
    pub stats: ErrorStats,
}

/// The HDR-FLIP results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlipSummary {
    /// Mean FLIP error over the frame.
    pub mean: f64,
    /// Largest tile mean.
    pub worst_tile_mean: f64,
    /// Top-left corner of that tile.
    pub worst_tile: (u32, u32),
    /// The three channels compared as red, green and blue.
    pub channels: [String; 3],
    /// Exposures and viewing condition.
    pub plan: FlipPlan,
    /// The backend that computed it.
    pub backend: String,
}

/// Noise levels of the two images (see the `noise` module).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoiseStats {
    /// Noise level of the first image.
    pub a: f64,
    /// Noise level of the second image.
    pub b: f64,
    /// Larger over smaller (1 when both are 0).
    pub ratio: f64,
}

/// The result of [`compare`]: the verdict, the reasons for it, and every number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The verdict for the coordinator.
    pub verdict: Verdict,
    /// Why the verdict is inconclusive or a mismatch (empty otherwise).
    pub reasons: Vec<Reason>,
    /// Width of the first image.
    pub width: u32,
    /// Height of the first image.
    pub height: u32,
    /// Pixel hash of the first image (hex).
    pub pixel_hash_a: String,
    /// Pixel hash of the second image (hex).
    pub pixel_hash_b: String,
    /// Channels present in both images (the ones compared).
    pub channels: Vec<String>,
    /// Channels only in the first image.
    pub only_in_a: Vec<String>,
    /// Channels only in the second image.
    pub only_in_b: Vec<String>,
    /// NaN and infinite samples in the first image.
    pub non_finite_a: u64,
    /// NaN and infinite samples in the second image.
    pub non_finite_b: u64,
    /// `idiff`'s numbers over all compared channels; `None` when the images
    /// cannot be compared (different sizes, no common channel).
    pub overall: Option<ErrorStats>,
    /// `idiff`'s numbers per compared channel.
    pub per_channel: Vec<ChannelStats>,
    /// `idiff`'s outcome under [`CompareConfig::idiff`]; its exit code.
    pub idiff_status: IdiffStatus,
    /// Tile edge in pixels.
    pub tile_size: u32,
    /// Every tile, row by row (empty when identical).
    pub tiles: Vec<TileStats>,
    /// HDR-FLIP, when computed (needs R, G, B channels; skipped when identical).
    pub flip: Option<FlipSummary>,
    /// Noise levels (skipped when identical).
    pub noise: Option<NoiseStats>,
}

impl Comparison {
    /// True when the images could not be compared at all (size or channels).
    pub fn incomparable(&self) -> bool {
        self.overall.is_none()
    }

    /// `idiff`'s exit code: 0 pass, 1 warning, 2 failure, 3 not comparable.
    pub fn idiff_exit_code(&self) -> i32 {
        if self.incomparable() {
            3
        } else {
            self.idiff_status as i32
        }
    }

    /// The worst tile by relative bias.
    pub fn worst_bias_tile(&self) -> Option<&TileStats> {
        self.tiles.iter().max_by(|a, b| a.bias.total_cmp(&b.bias))
    }

    /// The worst tile by mean absolute error.
    pub fn worst_error_tile(&self) -> Option<&TileStats> {
        self.tiles
            .iter()
            .max_by(|a, b| a.mean_error.total_cmp(&b.mean_error))
    }
}

/// Compares two decoded frames with the CPU FLIP backend. `a` is the
/// reference (FLIP's exposures are chosen from it).
pub fn compare(a: &FrameImage, b: &FrameImage, config: &CompareConfig) -> Comparison {
    compare_with(a, b, config, &CpuBackend).0
}

/// [`compare`] with a chosen FLIP backend; also returns the per-pixel FLIP
/// error map (row-major, for the heat map) when FLIP was computed.
pub fn compare_with(
    a: &FrameImage,
    b: &FrameImage,
    config: &CompareConfig,
    backend: &dyn FlipBackend,
) -> (Comparison, Option<Vec<f32>>) {
    let (hash_a, hash_b) = rayon::join(|| a.pixel_hash(), || b.pixel_hash());
    let (channels, only_in_a, only_in_b) = split_channels(a, b);
    let mut result = Comparison {
        verdict: Verdict::Identical,
        reasons: Vec::new(),
        width: a.width,
        height: a.height,
        pixel_hash_a: hash_a.to_hex().to_string(),
        pixel_hash_b: hash_b.to_hex().to_string(),
        channels,
        only_in_a,
        only_in_b,
        non_finite_a: 0,
        non_finite_b: 0,
        overall: None,
        per_channel: Vec::new(),
        idiff_status: IdiffStatus::Failure,
        tile_size: config.tile_size.max(1),
        tiles: Vec::new(),
        flip: None,
        noise: None,
    };
    if (a.width, a.height) != (b.width, b.height) || result.channels.is_empty() {
        (result.non_finite_a, result.non_finite_b) =
            rayon::join(|| a.non_finite_count(), || b.non_finite_count());
    }
    if (a.width, a.height) != (b.width, b.height) {
        let e = FrameDiffError::SizeMismatch {
            a_width: a.width,
            a_height: a.height,
            b_width: b.width,
            b_height: b.height,
        };
        result.reasons.push(fatal(Check::Size, e.to_string()));
        result.verdict = Verdict::Mismatch;
        return (result, None);
    }
    if result.channels.is_empty() {
        let e = FrameDiffError::NoCommonChannels {
            a: a.channel_names(),
            b: b.channel_names(),
        };
        result.reasons.push(fatal(Check::Channels, e.to_string()));
        result.verdict = Verdict::Mismatch;
        return (result, None);
    }
    if hash_a == hash_b {
        result.non_finite_a = a.non_finite_count();
        result.non_finite_b = result.non_finite_a;
        result.overall = Some(ErrorStats::identical());
        result.per_channel = result
            .channels
            .iter()
            .map(|name| ChannelStats {
                name: name.clone(),
                stats: ErrorStats::identical(),
            })
            .collect();
        result.idiff_status = IdiffStatus::Pass;
        return (result, None);
    }
    let map = measure(a, b, config, backend, &mut result);
    result.reasons.extend(reasons(&result, config));
    result.verdict = result
        .reasons
        .iter()
        .map(|r| r.severity)
        .max()
        .unwrap_or(Verdict::WithinTolerance);
    (result, map)
}

fn fatal(check: Check, message: String) -> Reason {
    Reason {
        check,
        severity: Verdict::Mismatch,
        value: 0.0,
        limit: 0.0,
        tile: None,
        message,
    }
}

/// Common channels, and those only in `a` or only in `b` (all sorted).
fn split_channels(a: &FrameImage, b: &FrameImage) -> (Vec<String>, Vec<String>, Vec<String>) {
    let names_a = a.channel_names();
    let names_b = b.channel_names();
    let common = names_a
        .iter()
        .filter(|n| b.channel(n).is_some())
        .cloned()
        .collect();
    let only_a = names_a
        .iter()
        .filter(|n| b.channel(n).is_none())
        .cloned()
        .collect();
    let only_b = names_b
        .iter()
        .filter(|n| a.channel(n).is_none())
        .cloned()
        .collect();
    (common, only_a, only_b)
}

/// The channels FLIP and the noise check read as R, G, B: plain `R`, `G`,
/// `B`, else the layer holding `.R`, `.G`, `.B` whose name mentions
/// `Combined` (Blender's beauty pass), else the first such layer.
pub(crate) fn rgb_names(channels: &[String]) -> Option<[String; 3]> {
    let has = |n: &str| channels.iter().any(|c| c == n);
    if has("R") && has("G") && has("B") {
        return Some(["R".into(), "G".into(), "B".into()]);
    }
    let layers: Vec<&str> = channels
        .iter()
        .filter_map(|c| c.strip_suffix(".R"))
        .filter(|l| has(&format!("{l}.G")) && has(&format!("{l}.B")))
        .collect();
    let layer = layers
        .iter()
        .find(|l| l.contains("Combined"))
        .or(layers.first())?;
    Some([
        format!("{layer}.R"),
        format!("{layer}.G"),
        format!("{layer}.B"),
    ])
}

fn planes<'a>(image: &'a FrameImage, names: &[String; 3]) -> Option<RgbPlanes<'a>> {
    Some(RgbPlanes {
        r: &image.channel(&names[0])?.samples,
        g: &image.channel(&names[1])?.samples,
        b: &image.channel(&names[2])?.samples,
    })
}

/// Runs the metric pass, FLIP and the noise estimate; fills `result`.
fn measure(
    a: &FrameImage,
    b: &FrameImage,
    config: &CompareConfig,
    backend: &dyn FlipBackend,
    result: &mut Comparison,
) -> Option<Vec<f32>> {
    let (w, h) = (a.width as usize, a.height as usize);
    let pairs: Vec<(&[f32], &[f32])> = result
        .channels
        .iter()
        .filter_map(|n| {
            Some((
                a.channel(n)?.samples.as_slice(),
                b.channel(n)?.samples.as_slice(),
            ))
        })
        .collect();
    let pass = Pass {
        width: w,
        height: h,
        tile: result.tile_size as usize,
        warn: config.idiff.warn,
        fail: config.idiff.fail,
    };
    let rgb = rgb_names(&result.channels);
    let noise_names = rgb
        .as_ref()
        .map_or(result.channels.as_slice(), |n| n.as_slice());
    let noisy: Vec<usize> = noise_names
        .iter()
        .filter_map(|n| result.channels.iter().position(|c| c == n))
        .collect();
    let ((tile_accs, noise_sums), flip) = rayon::join(
        || metrics::accumulate(pass, &pairs, &noisy),
        || flip_map(a, b, rgb.as_ref(), config, backend),
    );
    let [na, nb] = noise_sums.map(|sum| noise::level(sum, noisy.len(), w, h));
    let noise = NoiseStats {
        a: na,
        b: nb,
        ratio: if na.max(nb) == 0.0 {
            1.0
        } else {
            na.max(nb) / na.min(nb)
        },
    };
    // Non-finite samples: counted by the pass in the compared channels, and
    // directly in the channels only one image has.
    let counted = |image: &FrameImage, only: &[String]| -> u64 {
        only.iter()
            .filter_map(|n| image.channel(n))
            .map(|c| c.samples.iter().filter(|v| !v.is_finite()).count() as u64)
            .sum()
    };
    let in_pass = |pick: fn(&metrics::Acc) -> u64| -> u64 {
        tile_accs.iter().flat_map(|t| &t.channels).map(pick).sum()
    };
    result.non_finite_a = in_pass(|c| c.nonfinite_a) + counted(a, &result.only_in_a);
    result.non_finite_b = in_pass(|c| c.nonfinite_b) + counted(b, &result.only_in_b);
    let pixels = (w * h) as u64;
    let (mut overall, per_channel) =
        idiff::summarize(&tile_accs, &result.channels, a.width, pixels);
    let nonfinite: u64 = tile_accs
        .iter()
        .flat_map(|t| &t.channels)
        .map(|c| c.nonfinite_mismatches)
        .sum();
    if nonfinite > 0 {
        overall = idiff::sequential(&pairs, &result.channels, a.width, &config.idiff);
    }
    result.idiff_status = overall.status(&config.idiff, pixels);
    result.overall = Some(overall);
    result.per_channel = result
        .channels
        .iter()
        .zip(per_channel)
        .map(|(name, stats)| ChannelStats {
            name: name.clone(),
            stats,
        })
        .collect();
    result.tiles = tiles::tile_stats(
        &tile_accs,
        &result.channels,
        result.tile_size,
        a.width,
        a.height,
        config.verdict.bias_floor,
    );
    result.noise = Some(noise);
    let (summary, map) = flip?;
    tiles::add_flip_means(&mut result.tiles, &map, a.width);
    let worst = result.tiles.iter().max_by(|x, y| {
        x.flip_mean
            .unwrap_or(0.0)
            .total_cmp(&y.flip_mean.unwrap_or(0.0))
    });
    result.flip = Some(FlipSummary {
        worst_tile_mean: worst.and_then(|t| t.flip_mean).unwrap_or(0.0),
        worst_tile: worst.map_or((0, 0), |t| (t.x, t.y)),
        ..summary
    });
    Some(map)
}

fn flip_map(
    a: &FrameImage,
    b: &FrameImage,
    rgb: Option<&[String; 3]>,
    config: &CompareConfig,
    backend: &dyn FlipBackend,
) -> Option<(FlipSummary, Vec<f32>)> {
    if !config.flip {
        return None;
    }
    let names = rgb?;
    let (pa, pb) = (planes(a, names)?, planes(b, names)?);
    let plan = FlipPlan::new(pa, config.flip_mode, config.ppd);
    let map = backend.error_map(pa, pb, a.width, a.height, &plan).ok()?;
    let summary = FlipSummary {
        mean: flip::mean(&map),
        worst_tile_mean: 0.0,
        worst_tile: (0, 0),
        channels: names.clone(),
        plan,
        backend: backend.name().to_string(),
    };
    Some((summary, map))
}

fn reasons(result: &Comparison, config: &CompareConfig) -> Vec<Reason> {
    let v = &config.verdict;
    let mut out = Vec::new();
    if !result.only_in_a.is_empty() || !result.only_in_b.is_empty() {
        out.push(fatal(
            Check::Channels,
            format!(
                "channels differ: only in the first image {:?}, only in the second {:?}",
                result.only_in_a, result.only_in_b
            ),
        ));
    }
    let nonfinite: u64 = result.tiles.iter().map(|t| t.nonfinite_mismatches).sum();
    if nonfinite > 0 {
        out.push(fatal(
            Check::NonFinite,
            format!("{nonfinite} values are NaN or infinite in one image and not in the other"),
        ));
    }
    if let Some(t) = result.worst_bias_tile() {
        let what = format!("relative bias of channel {}", t.bias_channel);
        out.extend(judge(
            Check::TileBias,
            &v.tile_bias,
            t.bias,
            Some((t.x, t.y)),
            &what,
        ));
    }
    if let Some(f) = &result.flip {
        out.extend(judge(
            Check::FlipMean,
            &v.flip_mean,
            f.mean,
            None,
            "mean HDR-FLIP",
        ));
        out.extend(judge(
            Check::TileFlipMean,
            &v.tile_flip_mean,
            f.worst_tile_mean,
            Some(f.worst_tile),
            "tile mean HDR-FLIP",
        ));
    }
    if let Some(n) = &result.noise {
        out.extend(judge(
            Check::NoiseRatio,
            &v.noise_ratio,
            n.ratio,
            None,
            "noise level ratio",
        ));
    }
    out
}
