//! The CPU FLIP engine.
//!
//! The image is cut into blocks of rows processed in parallel (rayon). A
//! block walks its rows top to bottom keeping a ring buffer of the last
//! `2r + 1` horizontally filtered rows (both images, all seven filtered
//! planes each), so every pixel is tone mapped, converted and filtered once
//! per exposure and the vertical pass reads from cache instead of from full
//! intermediate images. All exposures are done block by block, and the
//! per-pixel maximum over exposures is kept in the output row. Inner loops
//! run over plain `f32` rows and vectorise; the transcendental functions
//! are the branch-free ones of `math`.

use rayon::prelude::*;

use super::filters::{FeatureKernels, SpatialKernels};
use super::pixel;
use super::{Exposure, RgbPlanes};

/// Output rows per parallel block.
const BLOCK_ROWS: usize = 64;

/// Number of horizontally filtered planes per image: Y, Cx, Cz1, Cz2 of the
/// colour pipeline and d/dx, d2/dx2, Gaussian of the feature pipeline.
const PLANES: usize = 7;

struct Setup<'a> {
    width: usize,
    height: usize,
    spatial: SpatialKernels,
    feature: FeatureKernels,
    pad: usize,
    cmax: f32,
    exposures: &'a [Exposure],
    images: [RgbPlanes<'a>; 2],
}

/// Per-pixel FLIP error of `test` against `reference`, maximum over `exposures`.
pub(crate) fn error_map(
    reference: RgbPlanes<'_>,
    test: RgbPlanes<'_>,
    width: usize,
    height: usize,
    ppd: f32,
    exposures: &[Exposure],
) -> Vec<f32> {
    let spatial = SpatialKernels::new(ppd);
    let feature = FeatureKernels::new(ppd);
    let setup = Setup {
        width,
        height,
        pad: spatial.radius.max(feature.radius),
        spatial,
        feature,
        cmax: pixel::max_distance(),
        exposures,
        images: [reference, test],
    };
    let mut map = vec![0f32; width * height];
    map.par_chunks_mut(BLOCK_ROWS * width)
        .enumerate()
        .for_each(|(i, out)| block_dispatch(&setup, i * BLOCK_ROWS, out));
    map
}

/// Runs [`block`] compiled for AVX2 when the CPU has it (twice the vector
/// width of the x86-64 baseline). Results are identical either way: Rust
/// never fuses multiplies and adds on its own, so enabling FMA changes no
/// rounding.
fn block_dispatch(s: &Setup<'_>, y0: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { block_avx2(s, y0, out) };
        return;
    }
    block(s, y0, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn block_avx2(s: &Setup<'_>, y0: usize, out: &mut [f32]) {
    block(s, y0, out);
}

/// Scratch space of one block.
struct Scratch {
    /// Ring of filtered rows: `[image][plane]`, each `ring_len * width`.
    ring: Vec<Vec<f32>>,
    ring_len: usize,
    /// Padded Y, Cx, Cz, normalised Y of the row being filtered.
    padded: [Vec<f32>; 4],
    /// Vertical results of one output row: `[image][8]`.
    vertical: Vec<Vec<f32>>,
}

#[inline(always)]
fn block(s: &Setup<'_>, y0: usize, out: &mut [f32]) {
    let w = s.width;
    let rows = out.len() / w;
    let ring_len = 2 * s.pad + 1;
    let mut scratch = Scratch {
        ring: vec![vec![0f32; ring_len * w]; 2 * PLANES],
        ring_len,
        padded: std::array::from_fn(|_| vec![0f32; w + 2 * s.pad]),
        vertical: vec![vec![0f32; w]; 16],
    };
    for exposure in s.exposures {
        let mut next = y0.saturating_sub(s.pad);
        for y in y0..y0 + rows {
            let need = (y + s.pad).min(s.height - 1);
            while next <= need {
                for image in 0..2 {
                    horizontal(s, &mut scratch, image, next, exposure);
                }
                next += 1;
            }
            vertical(s, &mut scratch, y);
            finish_row(s, &scratch, &mut out[(y - y0) * w..(y - y0 + 1) * w]);
        }
    }
}

/// `out[x] = sum_k kernel[k] * src[x + offset + k]`, summed in kernel order.
#[inline(always)]
fn convolve_row(out: &mut [f32], src: &[f32], kernel: &[f32], offset: usize) {
    out.fill(0.0);
    let n = out.len();
    for (k, &wk) in kernel.iter().enumerate() {
        let src = &src[offset + k..offset + k + n];
        for (o, &v) in out.iter_mut().zip(src) {
            *o += wk * v;
        }
    }
}

#[inline(always)]
fn horizontal(s: &Setup<'_>, scratch: &mut Scratch, image: usize, y: usize, exposure: &Exposure) {
    let w = s.width;
    let pad = s.pad;
    let src = &s.images[image];
    let row = y * w..(y + 1) * w;
    let (r, g, b) = (&src.r[row.clone()], &src.g[row.clone()], &src.b[row]);
    {
        let [py, pcx, pcz, pyn] = &mut scratch.padded;
        let (oy, ocx) = (&mut py[pad..pad + w], &mut pcx[pad..pad + w]);
        let (ocz, oyn) = (&mut pcz[pad..pad + w], &mut pyn[pad..pad + w]);
        for x in 0..w {
            let c = pixel::to_ycxcz([r[x], g[x], b[x]], exposure.scale, exposure.tone_map);
            oy[x] = c[0];
            ocx[x] = c[1];
            ocz[x] = c[2];
            oyn[x] = c[0] * (1.0 / 116.0) + 16.0 / 116.0;
        }
        for p in [&mut *py, &mut *pcx, &mut *pcz, &mut *pyn] {
            let (first, last) = (p[pad], p[pad + w - 1]);
            p[..pad].fill(first);
            p[pad + w..].fill(last);
        }
    }
    let slot = (y % scratch.ring_len) * w;
    let base = image * PLANES;
    let [py, pcx, pcz, pyn] = &scratch.padded;
    let sp = &s.spatial;
    let ft = &s.feature;
    let (so, fo) = (pad - sp.radius, pad - ft.radius);
    let jobs: [(&[f32], &[f32], usize); PLANES] = [
        (py, &sp.y, so),
        (pcx, &sp.cx, so),
        (pcz, &sp.cz1, so),
        (pcz, &sp.cz2, so),
        (pyn, &ft.dg, fo),
        (pyn, &ft.ddg, fo),
        (pyn, &ft.g, fo),
    ];
    for (plane, (src, kernel, offset)) in jobs.into_iter().enumerate() {
        let dst = &mut scratch.ring[base + plane][slot..slot + w];
        convolve_row(dst, src, kernel, offset);
    }
}

/// `out = sum_k kernel[k] * ring_plane[row(y - radius + k)]`, rows clamped to the image.
#[inline(always)]
fn vertical_plane(
    s: &Setup<'_>,
    scratch: &Scratch,
    out: &mut [f32],
    plane: usize,
    kernel: &[f32],
    y: usize,
) {
    let w = s.width;
    let radius = kernel.len() / 2;
    out.fill(0.0);
    for (k, &wk) in kernel.iter().enumerate() {
        let yy = (y + k).saturating_sub(radius).min(s.height - 1);
        let slot = (yy % scratch.ring_len) * w;
        let src = &scratch.ring[plane][slot..slot + w];
        for (o, &v) in out.iter_mut().zip(src) {
            *o += wk * v;
        }
    }
}

#[inline(always)]
fn vertical(s: &Setup<'_>, scratch: &mut Scratch, y: usize) {
    let sp = &s.spatial;
    let ft = &s.feature;
    let mut vertical = std::mem::take(&mut scratch.vertical);
    for image in 0..2 {
        let base = image * PLANES;
        // Outputs: Y, Cx, Cz1, Cz2, dx, ddx, dy, ddy.
        let jobs: [(usize, &[f32]); 8] = [
            (base, &sp.y),
            (base + 1, &sp.cx),
            (base + 2, &sp.cz1),
            (base + 3, &sp.cz2),
            (base + 4, &ft.g),
            (base + 5, &ft.g),
            (base + 6, &ft.dg),
            (base + 6, &ft.ddg),
        ];
        for (i, (plane, kernel)) in jobs.into_iter().enumerate() {
            vertical_plane(s, scratch, &mut vertical[image * 8 + i], plane, kernel, y);
        }
    }
    scratch.vertical = vertical;
}

#[inline(always)]
fn finish_row(s: &Setup<'_>, scratch: &Scratch, out: &mut [f32]) {
    let n = out.len();
    let v = &scratch.vertical;
    // One named slice of length n per vertical result, so the loop below
    // has no bounds checks and vectorises.
    let (ry, rcx, rcz1, rcz2) = (&v[0][..n], &v[1][..n], &v[2][..n], &v[3][..n]);
    let (rdx, rddx, rdy, rddy) = (&v[4][..n], &v[5][..n], &v[6][..n], &v[7][..n]);
    let (ty, tcx, tcz1, tcz2) = (&v[8][..n], &v[9][..n], &v[10][..n], &v[11][..n]);
    let (tdx, tddx, tdy, tddy) = (&v[12][..n], &v[13][..n], &v[14][..n], &v[15][..n]);
    for x in 0..n {
        let c = pixel::color_difference(
            [ry[x], rcx[x], rcz1[x] + rcz2[x]],
            [ty[x], tcx[x], tcz1[x] + tcz2[x]],
            s.cmax,
        );
        let f = pixel::feature_difference(
            [rdx[x], rdy[x], rddx[x], rddy[x]],
            [tdx[x], tdy[x], tddx[x], tddy[x]],
        );
        let e = pixel::flip(c, f);
        out[x] = if e > out[x] { e } else { out[x] };
    }
}
