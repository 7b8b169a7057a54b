//! HDR-FLIP (and LDR-FLIP), NVIDIA's perceptual error metric.
//!
//! HDR-FLIP, as defined by Andersson et al. (EG 2021) and implemented by
//! the NVlabs reference (`pip install flip-evaluator`): the exposure range
//! is chosen from the reference image's luminance (start = log2(x_max /
//! Y_max), stop = log2(x_max / Y_median), where the ACES tone curve reaches
//! 0.85 at x_max), both images are exposed, ACES tone mapped and clamped at
//! `max(2, ceil(stop - start))` evenly spaced exposures, LDR-FLIP is
//! computed at each, and every pixel keeps its worst error. Default viewing
//! condition: 67 pixels per degree (0.7 m from a 0.7 m wide 4K display).
//!
//! The per-pixel work runs behind the [`FlipBackend`] trait; [`CpuBackend`]
//! is the multi-threaded CPU implementation. A GPU backend (for example
//! CUDA kernels loaded at run time through `cudarc`) implements the same
//! trait and is passed to [`crate::compare_with`].

mod cpu;
mod filters;
mod math;
mod pixel;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::FrameDiffError;

/// The default pixels per degree: 0.7 m from a 0.7 m wide, 3840 pixel display.
pub const DEFAULT_PPD: f32 = 0.7 * (3840.0 / 0.7) * (std::f32::consts::PI / 180.0);

/// Red, green and blue planes of one image, linear, row-major.
#[derive(Debug, Clone, Copy)]
pub struct RgbPlanes<'a> {
    /// Red samples.
    pub r: &'a [f32],
    /// Green samples.
    pub g: &'a [f32],
    /// Blue samples.
    pub b: &'a [f32],
}

/// One exposure of HDR-FLIP: the scale applied before tone mapping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure {
    /// `2^exposure`.
    pub scale: f32,
    /// ACES tone mapping (HDR) or plain clamping (LDR).
    pub tone_map: bool,
}

/// How FLIP treats its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipMode {
    /// HDR-FLIP: linear radiance, any range (EXR renders).
    Hdr,
    /// LDR-FLIP: linear values in [0, 1] (decoded 8/16-bit images).
    Ldr,
}

/// The exposures HDR-FLIP evaluates and how they were chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlipPlan {
    /// Pixels per degree of visual angle.
    pub ppd: f32,
    /// HDR or LDR.
    pub mode: FlipMode,
    /// First exposure (log2 scale), HDR only.
    pub start_exposure: f32,
    /// Last exposure (log2 scale), HDR only.
    pub stop_exposure: f32,
    /// Number of exposures evaluated (1 for LDR).
    pub exposures: u32,
}

impl FlipPlan {
    /// Plans FLIP for `reference`: for HDR, the exposure range from its luminance.
    ///
    /// Where the reference's median luminance is zero the smallest non-zero
    /// luminance stands in for it, and an all-black reference is evaluated
    /// at exposure 0 only (the reference implementation divides by zero there).
    pub fn new(reference: RgbPlanes<'_>, mode: FlipMode, ppd: f32) -> Self {
        if mode == FlipMode::Ldr {
            return Self {
                ppd,
                mode,
                start_exposure: 0.0,
                stop_exposure: 0.0,
                exposures: 1,
            };
        }
        let mut luminance: Vec<f32> = reference
            .r
            .par_iter()
            .zip(reference.g.par_iter())
            .zip(reference.b.par_iter())
            .map(|((&r, &g), &b)| 0.2126 * r + 0.7152 * g + 0.0722 * b)
            .collect();
        let y_max = luminance.par_iter().copied().reduce(|| f32::MIN, f32::max);
        let y_min_positive = luminance
            .par_iter()
            .copied()
            .filter(|&y| y > 0.0)
            .reduce(|| f32::MAX, f32::min);
        let middle = luminance.len() / 2;
        let y_median = if luminance.is_empty() {
            0.0
        } else {
            *luminance.select_nth_unstable_by(middle, f32::total_cmp).1
        };
        let y_median = if y_median > 0.0 {
            y_median
        } else {
            y_min_positive
        };
        let x_max = aces_input_for(0.85);
        let (start, stop) = if y_max > 0.0 && y_median.is_finite() && y_median < f32::MAX {
            ((x_max / y_max).log2(), (x_max / y_median).log2())
        } else {
            (0.0, 0.0)
        };
        let exposures = if stop > start {
            (stop - start).ceil().max(2.0) as u32
        } else {
            2
        };
        Self {
            ppd,
            mode,
            start_exposure: start,
            stop_exposure: stop,
            exposures,
        }
    }

    /// The exposures to evaluate, in order.
    pub fn exposure_list(&self) -> Vec<Exposure> {
        match self.mode {
            FlipMode::Ldr => vec![Exposure {
                scale: 1.0,
                tone_map: false,
            }],
            FlipMode::Hdr => {
                let n = self.exposures.max(2);
                let step = (self.stop_exposure - self.start_exposure) / (n - 1) as f32;
                (0..n)
                    .map(|i| Exposure {
                        scale: 2f32.powf(self.start_exposure + i as f32 * step),
                        tone_map: true,
                    })
                    .collect()
            }
        }
    }
}

/// The input value at which the ACES curve reaches `t` (the larger root of
/// the quadratic `(t0 - t t3) x^2 + (t1 - t t4) x + (t2 - t t5) = 0`).
fn aces_input_for(t: f32) -> f32 {
    let c = &pixel::ACES;
    let (a, b, c) = (c[0] - t * c[3], c[1] - t * c[4], c[2] - t * c[5]);
    if a == 0.0 {
        return -c / b;
    }
    let d1 = -0.5 * (b / a);
    let d2 = (d1 * d1 - c / a).sqrt();
    d1 + d2
}

/// Computes per-pixel FLIP error maps. The CPU implementation is
/// [`CpuBackend`]; a GPU implementation plugs in here.
pub trait FlipBackend: Send + Sync {
    /// Short name for reports (`"cpu"`).
    fn name(&self) -> &'static str;

    /// Per-pixel FLIP error of `test` against `reference` under `plan`,
    /// row-major, `width * height` values in [0, 1].
    fn error_map(
        &self,
        reference: RgbPlanes<'_>,
        test: RgbPlanes<'_>,
        width: u32,
        height: u32,
        plan: &FlipPlan,
    ) -> Result<Vec<f32>, FrameDiffError>;
}

/// Multi-threaded (rayon), vectorised CPU FLIP.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuBackend;

impl FlipBackend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn error_map(
        &self,
        reference: RgbPlanes<'_>,
        test: RgbPlanes<'_>,
        width: u32,
        height: u32,
        plan: &FlipPlan,
    ) -> Result<Vec<f32>, FrameDiffError> {
        if width == 0 || height == 0 {
            return Ok(Vec::new());
        }
        Ok(cpu::error_map(
            reference,
            test,
            width as usize,
            height as usize,
            plan.ppd,
            &plan.exposure_list(),
        ))
    }
}

/// Mean of an error map, summed in `f64`.
pub fn mean(map: &[f32]) -> f64 {
    if map.is_empty() {
        return 0.0;
    }
    map.par_chunks(1 << 14)
        .map(|c| c.iter().map(|&v| v as f64).sum::<f64>())
        .sum::<f64>()
        / map.len() as f64
}
