//! Side-by-side timing of `frame-diff` against `idiff` and NVIDIA's `flip`
//! on a generated 3840x2160 RGBA float EXR pair (decode included). Prints
//! the figures and the ratios; asserts nothing about time.
//!
//! Run: `cargo bench -p frame-diff --bench vs_idiff` (set
//! `FRAME_DIFF_BENCH_RUNS=n` for the median of n runs, default 3, and
//! `FRAME_DIFF_BENCH_SKIP_FLIP=1` to time only the idiff part).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use exr::prelude::{
    AnyChannel, AnyChannels, Encoding, FlatSamples, Image, Layer, LayerAttributes, SmallVec,
    WritableImage,
};
use frame_diff::{CompareConfig, compare, read_image};

const WIDTH: usize = 3840;
const HEIGHT: usize = 2160;

/// xorshift64*: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// A render-like RGBA frame: smooth HDR gradients, a few bright discs, and
/// Monte Carlo-like noise from `seed`.
fn frame(seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut planes = vec![vec![0f32; WIDTH * HEIGHT]; 4];
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (u, v) = (x as f32 / WIDTH as f32, y as f32 / HEIGHT as f32);
            let disc = ((u - 0.3).powi(2) + (v - 0.4).powi(2) < 0.01) as u8 as f32 * 6.0
                + ((u - 0.7).powi(2) + (v - 0.6).powi(2) < 0.02) as u8 as f32 * 1.5;
            let base = [
                0.2 + 0.6 * u + disc,
                0.15 + 0.5 * v + disc * 0.8,
                0.1 + 0.3 * (u * v) + disc * 0.5,
            ];
            let i = y * WIDTH + x;
            for c in 0..3 {
                planes[c][i] = base[c] * (0.85 + 0.3 * rng.next());
            }
            planes[3][i] = 1.0;
        }
    }
    planes
}

fn write(path: &Path, planes: Vec<Vec<f32>>) {
    let channels: SmallVec<[AnyChannel<FlatSamples>; 4]> = ["R", "G", "B", "A"]
        .iter()
        .zip(planes)
        .map(|(n, p)| AnyChannel::new(*n, FlatSamples::F32(p)))
        .collect();
    let layer = Layer::new(
        (WIDTH, HEIGHT),
        LayerAttributes::default(),
        Encoding::SMALL_LOSSLESS,
        AnyChannels::sort(channels),
    );
    Image::from_layer(layer)
        .write()
        .to_file(path)
        .expect("write EXR");
}

fn pair() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("frame-diff-bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let (a, b) = (
        dir.join("a_3840x2160_rgba_f32.exr"),
        dir.join("b_3840x2160_rgba_f32.exr"),
    );
    if !a.exists() || !b.exists() {
        eprintln!("generating {} and {}", a.display(), b.display());
        write(&a, frame(1));
        write(&b, frame(2));
    }
    (a, b)
}

/// Runs per measurement: `FRAME_DIFF_BENCH_RUNS`, default 3.
fn runs() -> usize {
    std::env::var("FRAME_DIFF_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1)
}

/// Median wall time of `runs()` runs of `f`.
fn time(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs())
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn tool(program: &str, args: &[&std::ffi::OsStr]) -> Option<Duration> {
    let ok = Command::new(program).args(args).output().is_ok();
    ok.then(|| {
        time(|| {
            Command::new(program).args(args).output().expect("run tool");
        })
    })
}

fn main() {
    let (a, b) = pair();
    let threads = rayon::current_num_threads();
    println!(
        "frame-diff bench: {WIDTH}x{HEIGHT} RGBA float EXR pair (ZIP), {threads} threads, median of {}",
        runs()
    );

    let decode = time(|| {
        let (x, y) = rayon::join(|| read_image(&a).unwrap(), || read_image(&b).unwrap());
        assert_eq!(x.width, y.width);
    });
    let no_flip = CompareConfig {
        flip: false,
        ..CompareConfig::default()
    };
    let (x, y) = rayon::join(|| read_image(&a).unwrap(), || read_image(&b).unwrap());
    let hash = time(|| {
        rayon::join(|| x.pixel_hash(), || y.pixel_hash());
    });
    let compare_only = time(|| {
        compare(&x, &y, &no_flip);
    });
    drop((x, y));
    let mut idiff_numbers = None;
    let ours = time(|| {
        let (x, y) = rayon::join(|| read_image(&a).unwrap(), || read_image(&b).unwrap());
        idiff_numbers = Some(compare(&x, &y, &no_flip));
    });
    let c = idiff_numbers.expect("ran");
    let o = c.overall.as_ref().expect("comparable");
    println!(
        "  decode both files:                         {:>7.3} s",
        decode.as_secs_f64()
    );
    println!(
        "  frame-diff (decode + hash + idiff + tiles): {:>7.3} s   mean {:.6} rms {:.6} psnr {:.4} max {:.6}, {} tiles",
        ours.as_secs_f64(),
        o.mean_error,
        o.rms_error,
        o.psnr,
        o.max_error,
        c.tiles.len()
    );
    println!(
        "    of which pixel hashes of both:            {:>7.3} s",
        hash.as_secs_f64()
    );
    println!(
        "    of which compare() on decoded images:     {:>7.3} s",
        compare_only.as_secs_f64()
    );
    match tool("idiff", &[a.as_os_str(), b.as_os_str()]) {
        Some(t) => println!(
            "  idiff:                                     {:>7.3} s   frame-diff is {:.2}x faster",
            t.as_secs_f64(),
            t.as_secs_f64() / ours.as_secs_f64()
        ),
        None => println!("  idiff: not found on PATH"),
    }

    if std::env::var_os("FRAME_DIFF_BENCH_SKIP_FLIP").is_some() {
        return;
    }
    let with_flip = CompareConfig::default();
    let mut flip_result = None;
    let ours_flip = time(|| {
        let (x, y) = rayon::join(|| read_image(&a).unwrap(), || read_image(&b).unwrap());
        flip_result = Some(compare(&x, &y, &with_flip));
    });
    let f = flip_result.and_then(|c| c.flip).expect("FLIP computed");
    println!(
        "  frame-diff HDR-FLIP (decode + everything): {:>7.3} s   mean {:.6}, {} exposures",
        ours_flip.as_secs_f64(),
        f.mean,
        f.plan.exposures
    );
    let out = std::env::temp_dir();
    let flip_args = [
        "-v".as_ref(),
        "1".as_ref(),
        "-nerm".as_ref(),
        "-nexm".as_ref(),
        "-d".as_ref(),
        out.as_os_str(),
        "-r".as_ref(),
        a.as_os_str(),
        "-t".as_ref(),
        b.as_os_str(),
    ];
    match tool("flip", &flip_args) {
        Some(t) => {
            let text = Command::new("flip")
                .args(flip_args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                .unwrap_or_default();
            let mean = text
                .lines()
                .find(|l| l.contains("Mean:"))
                .unwrap_or("")
                .trim()
                .to_string();
            println!(
                "  flip (NVIDIA reference):                  {:>7.3} s   {mean}; frame-diff is {:.2}x faster",
                t.as_secs_f64(),
                t.as_secs_f64() / ours_flip.as_secs_f64()
            );
        }
        None => println!("  flip: not found on PATH"),
    }
}
