//! FLIP's per-pixel colour maths: tone mapping, colour spaces, the colour
//! and feature differences. Functions take and return plain `f32`s so the
//! row loops that call them vectorise.

use super::filters::{GPC, GPT, GQC, GQF};
use super::math;

/// D65 white (the reference illuminant) and its inverse.
const WHITE: [f32; 3] = [0.950_428_5, 1.0, 1.088_900_4];
const INV_WHITE: [f32; 3] = [1.052_156_9, 1.0, 0.918_357_7];

/// Linear sRGB (D65) to XYZ.
const RGB_TO_XYZ: [[f32; 3]; 3] = [
    [
        10135552.0 / 24577794.0,
        8788810.0 / 24577794.0,
        4435075.0 / 24577794.0,
    ],
    [
        2613072.0 / 12288897.0,
        8788810.0 / 12288897.0,
        887015.0 / 12288897.0,
    ],
    [
        1425312.0 / 73733382.0,
        8788810.0 / 73733382.0,
        70074185.0 / 73733382.0,
    ],
];
/// XYZ to linear sRGB (D65).
const XYZ_TO_RGB: [[f32; 3]; 3] = [
    [3.241_003_3, -1.537_398_9, -0.498_615_87],
    [-0.969_224_3, 1.875_930_1, 0.041_554_224],
    [0.055_639_423, -0.204_011_2, 1.057_148_9],
];

/// ACES filmic tone curve coefficients (0.6 pre-exposure cancelled), as
/// `(c^2 t0 + c t1 + t2) / (c^2 t3 + c t4 + t5)`.
pub const ACES: [f32; 6] = [
    0.6 * 0.6 * 2.51,
    0.6 * 0.03,
    0.0,
    0.6 * 0.6 * 2.43,
    0.6 * 0.59,
    0.14,
];

#[inline(always)]
fn mat(m: &[[f32; 3]; 3], v: [f32; 3]) -> [f32; 3] {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

#[inline(always)]
fn aces(c: f32) -> f32 {
    let t = &ACES;
    let v = (c * c * t[0] + c * t[1] + t[2]) / (c * c * t[3] + c * t[4] + t[5]);
    v.clamp(0.0, 1.0)
}

/// Exposes linear RGB by `scale` (2^exposure), tone maps with ACES, clamps
/// to [0, 1] and converts to YCxCz. With `tone_map` false (LDR-FLIP) the
/// input is only clamped.
#[inline(always)]
pub fn to_ycxcz(rgb: [f32; 3], scale: f32, tone_map: bool) -> [f32; 3] {
    let c = if tone_map {
        [
            aces(rgb[0] * scale),
            aces(rgb[1] * scale),
            aces(rgb[2] * scale),
        ]
    } else {
        [
            rgb[0].clamp(0.0, 1.0),
            rgb[1].clamp(0.0, 1.0),
            rgb[2].clamp(0.0, 1.0),
        ]
    };
    let xyz = mat(&RGB_TO_XYZ, c);
    let (x, y, z) = (
        xyz[0] * INV_WHITE[0],
        xyz[1] * INV_WHITE[1],
        xyz[2] * INV_WHITE[2],
    );
    [116.0 * y - 16.0, 500.0 * (x - y), 200.0 * (y - z)]
}

/// Filtered YCxCz to Hunt-adjusted CIELab (through linear RGB clamped to [0, 1]).
#[inline(always)]
fn hunt_lab(ycxcz: [f32; 3]) -> [f32; 3] {
    let y = (ycxcz[0] + 16.0) / 116.0;
    let xyz = [
        (y + ycxcz[1] / 500.0) * WHITE[0],
        y * WHITE[1],
        (y - ycxcz[2] / 200.0) * WHITE[2],
    ];
    let rgb = mat(&XYZ_TO_RGB, xyz);
    let rgb = [
        rgb[0].clamp(0.0, 1.0),
        rgb[1].clamp(0.0, 1.0),
        rgb[2].clamp(0.0, 1.0),
    ];
    let xyz = mat(&RGB_TO_XYZ, rgb);
    const DELTA: f32 = 6.0 / 29.0;
    const CUBE: f32 = DELTA * DELTA * DELTA;
    const FACTOR: f32 = 1.0 / (3.0 * DELTA * DELTA);
    const TERM: f32 = 4.0 / 29.0;
    let f = |v: f32| {
        if v > CUBE {
            math::cbrt(v)
        } else {
            FACTOR * v + TERM
        }
    };
    let fx = f(xyz[0] * INV_WHITE[0]);
    let fy = f(xyz[1] * INV_WHITE[1]);
    let fz = f(xyz[2] * INV_WHITE[2]);
    let l = 116.0 * fy - 16.0;
    let a = 500.0 * (fx - fy);
    let b = 200.0 * (fy - fz);
    [l, 0.01 * l * a, 0.01 * l * b]
}

#[inline(always)]
fn hyab(p: [f32; 3], q: [f32; 3]) -> f32 {
    let (da, db) = (p[1] - q[1], p[2] - q[2]);
    (p[0] - q[0]).abs() + (da * da + db * db).sqrt()
}

/// The largest colour distance (green to blue) raised to `q_c`: `cmax`.
pub fn max_distance() -> f32 {
    let lab = |rgb: [f32; 3]| {
        let xyz = mat(&RGB_TO_XYZ, rgb);
        let f = |v: f32| {
            const DELTA: f32 = 6.0 / 29.0;
            if v > DELTA * DELTA * DELTA {
                v.cbrt()
            } else {
                v / (3.0 * DELTA * DELTA) + 4.0 / 29.0
            }
        };
        let (fx, fy, fz) = (
            f(xyz[0] * INV_WHITE[0]),
            f(xyz[1] * INV_WHITE[1]),
            f(xyz[2] * INV_WHITE[2]),
        );
        let l = 116.0 * fy - 16.0;
        [
            l,
            0.01 * l * 500.0 * (fx - fy),
            0.01 * l * 200.0 * (fy - fz),
        ]
    };
    hyab(lab([0.0, 1.0, 0.0]), lab([0.0, 0.0, 1.0])).powf(GQC)
}

/// Colour difference of two spatially filtered YCxCz pixels, mapped to [0, 1].
#[inline(always)]
pub fn color_difference(reference: [f32; 3], test: [f32; 3], cmax: f32) -> f32 {
    let pccmax = GPC * cmax;
    let d = math::pow(hyab(hunt_lab(reference), hunt_lab(test)), GQC);
    if d < pccmax {
        d * (GPT / pccmax)
    } else {
        GPT + ((d - pccmax) / (cmax - pccmax)) * (1.0 - GPT)
    }
}

/// Feature difference from the filtered edge (first-derivative) and point
/// (second-derivative) responses of both images.
#[inline(always)]
pub fn feature_difference(reference: [f32; 4], test: [f32; 4]) -> f32 {
    // [dx, dy, ddx, ddy]
    let edge = |v: [f32; 4]| (v[0] * v[0] + v[1] * v[1]).sqrt();
    let point = |v: [f32; 4]| (v[2] * v[2] + v[3] * v[3]).sqrt();
    let e = (edge(reference) - edge(test)).abs();
    let p = (point(reference) - point(test)).abs();
    math::pow(std::f32::consts::FRAC_1_SQRT_2 * e.max(p), GQF)
}

/// The FLIP value of a pixel: `color^(1 - feature)`.
#[inline(always)]
pub fn flip(color: f32, feature: f32) -> f32 {
    math::pow(color, 1.0 - feature)
}
