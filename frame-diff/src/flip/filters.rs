//! FLIP's constants and its separable filter kernels (HPG 2020 paper,
//! "Visualizing Errors in Rendered HDR Images", EG 2021, and the
//! separated-convolution note of the NVlabs reference).

use std::f32::consts::PI;

/// Colour-difference exponent `q_c`.
pub const GQC: f32 = 0.7;
/// Fraction `p_c` of the maximum colour distance mapped to `p_t`.
pub const GPC: f32 = 0.4;
/// Error value `p_t` the distance `p_c * cmax` maps to.
pub const GPT: f32 = 0.95;
/// Feature filter width `w` in degrees.
pub const GW: f32 = 0.082;
/// Feature-difference exponent `q_f`.
pub const GQF: f32 = 0.5;

/// Contrast sensitivity Gaussians: `a * sqrt(pi / b) * exp(-pi^2 x^2 / b)`;
/// Y and Cx use one Gaussian each, Cz a sum of two.
const A1: [f32; 3] = [1.0, 1.0, 34.1];
const B1: [f32; 3] = [0.0047, 0.0053, 0.04];
const A2Z: f32 = 13.5;
const B2Z: f32 = 0.025;
/// Largest scale parameter of the six Gaussians (b2 of Y and Cx is 1e-5).
const MAX_B: f32 = 0.04;

fn gaussian(x2: f32, a: f32, b: f32) -> f32 {
    a * (PI / b).sqrt() * (-(PI * PI) * x2 / b).exp()
}

fn gaussian_sqrt(x2: f32, a: f32, b: f32) -> f32 {
    (a * (PI / b).sqrt()).sqrt() * (-(PI * PI) * x2 / b).exp()
}

/// The colour pipeline's separable kernels: `y` and `cx` are normalised
/// Gaussians; `cz1` and `cz2` are the two separated halves of the Cz sum of
/// Gaussians (filtering with each in x then y and adding the results equals
/// the 2-D sum-of-Gaussians filter).
#[derive(Debug, Clone)]
pub struct SpatialKernels {
    pub radius: usize,
    pub y: Vec<f32>,
    pub cx: Vec<f32>,
    pub cz1: Vec<f32>,
    pub cz2: Vec<f32>,
}

impl SpatialKernels {
    /// Kernels for `ppd` pixels per degree.
    pub fn new(ppd: f32) -> Self {
        let radius = (3.0 * (MAX_B / (2.0 * PI * PI)).sqrt() * ppd).ceil() as usize;
        let dx = 1.0 / ppd;
        let width = 2 * radius + 1;
        let mut k = Self {
            radius,
            y: Vec::with_capacity(width),
            cx: Vec::with_capacity(width),
            cz1: Vec::with_capacity(width),
            cz2: Vec::with_capacity(width),
        };
        for i in 0..width {
            let x = (i as f32 - radius as f32) * dx;
            let x2 = x * x;
            k.y.push(gaussian(x2, A1[0], B1[0]));
            k.cx.push(gaussian(x2, A1[1], B1[1]));
            k.cz1.push(gaussian_sqrt(x2, A1[2], B1[2]));
            k.cz2.push(gaussian_sqrt(x2, A2Z, B2Z));
        }
        let (sy, scx) = (k.y.iter().sum::<f32>(), k.cx.iter().sum::<f32>());
        let (s1, s2) = (k.cz1.iter().sum::<f32>(), k.cz2.iter().sum::<f32>());
        let nz = 1.0 / (s1 * s1 + s2 * s2).sqrt();
        let (ny, ncx) = (1.0 / sy, 1.0 / scx);
        k.y.iter_mut().for_each(|v| *v *= ny);
        k.cx.iter_mut().for_each(|v| *v *= ncx);
        k.cz1.iter_mut().for_each(|v| *v *= nz);
        k.cz2.iter_mut().for_each(|v| *v *= nz);
        k
    }
}

/// The feature pipeline's kernels: a Gaussian and its first and second
/// derivatives (edges and points), each normalised as in the reference.
#[derive(Debug, Clone)]
pub struct FeatureKernels {
    pub radius: usize,
    pub g: Vec<f32>,
    pub dg: Vec<f32>,
    pub ddg: Vec<f32>,
}

impl FeatureKernels {
    /// Kernels for `ppd` pixels per degree.
    pub fn new(ppd: f32) -> Self {
        let sd = 0.5 * GW * ppd;
        let radius = (3.0 * sd).ceil() as usize;
        let width = 2 * radius + 1;
        let (mut g, mut dg, mut ddg) = (vec![0.0; width], vec![0.0; width], vec![0.0; width]);
        let (mut g_sum, mut dg_neg, mut dg_pos, mut ddg_neg, mut ddg_pos) =
            (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..width {
            let x = i as f32 - radius as f32;
            let gi = (-(x * x) / (2.0 * sd * sd)).exp();
            g_sum += gi;
            let d = -x * gi;
            if d > 0.0 {
                dg_pos += d;
            } else {
                dg_neg -= d;
            }
            let dd = (x * x / (sd * sd) - 1.0) * gi;
            if dd > 0.0 {
                ddg_pos += dd;
            } else {
                ddg_neg -= dd;
            }
            (g[i], dg[i], ddg[i]) = (gi, d, dd);
        }
        for i in 0..width {
            g[i] /= g_sum;
            dg[i] /= if dg[i] > 0.0 { dg_pos } else { dg_neg };
            ddg[i] /= if ddg[i] > 0.0 { ddg_pos } else { ddg_neg };
        }
        Self { radius, g, dg, ddg }
    }
}
