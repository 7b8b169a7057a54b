//! `frame-diff` agrees with the real `idiff` (OpenImageIO, Debian's
//! `openimageio-tools`): the same mean, RMS, PSNR and max error (to 1e-4
//! relative), the same max error location, the same pixel counts, and the
//! same exit codes, on Blender renders and tampered copies of them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use frame_diff::{CompareConfig, IdiffThresholds, compare, read_image};
use support::{files, tamper};

/// The numbers `idiff -v` printed.
#[derive(Debug)]
struct Printed {
    mean: f64,
    rms: f64,
    psnr: f64,
    max: f64,
    at: Option<(u32, u32, String)>,
    warn: u64,
    fail: u64,
    code: i32,
}

fn value(line: &str) -> f64 {
    let v = line
        .split('=')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    v.parse()
        .unwrap_or_else(|_| if v == "inf" { f64::INFINITY } else { f64::NAN })
}

fn run_idiff(a: &Path, b: &Path, flags: &[&str]) -> Printed {
    let out = Command::new("idiff")
        .arg("-v")
        .args(flags)
        .arg(a)
        .arg(b)
        .output()
        .expect("run idiff");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let find = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
    };
    let max_line = find("Max error");
    let at = max_line.split_once(" @ (").map(|(_, rest)| {
        let inner = rest.split(')').next().unwrap();
        let parts: Vec<&str> = inner.split(", ").collect();
        (
            parts[0].parse().unwrap(),
            parts[1].parse().unwrap(),
            parts[2].to_string(),
        )
    });
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("pixels (") && l.contains("over"))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    Printed {
        mean: value(find("Mean error")),
        rms: value(find("RMS error")),
        psnr: value(find("Peak SNR")),
        max: value(max_line),
        at,
        warn: counts[0],
        fail: counts[1],
        code: out.status.code().unwrap(),
    }
}

fn close(ours: f64, theirs: f64, what: &str) {
    // idiff prints 6 significant digits, so 1e-4 relative is well above its rounding.
    let ok = (ours == theirs) || ((ours - theirs) / theirs).abs() <= 1e-4;
    assert!(ok, "{what}: frame-diff {ours} vs idiff {theirs}");
}

fn check(a: &Path, b: &Path, flags: &[&str], thresholds: IdiffThresholds) {
    let theirs = run_idiff(a, b, flags);
    let config = CompareConfig {
        idiff: thresholds,
        flip: false,
        ..CompareConfig::default()
    };
    let ours = compare(&read_image(a).unwrap(), &read_image(b).unwrap(), &config);
    let o = ours.overall.as_ref().unwrap();
    let what = format!("{} vs {} {flags:?}", a.display(), b.display());
    close(o.mean_error, theirs.mean, &format!("mean, {what}"));
    close(o.rms_error, theirs.rms, &format!("rms, {what}"));
    close(o.psnr, theirs.psnr, &format!("psnr, {what}"));
    close(o.max_error, theirs.max, &format!("max, {what}"));
    let at = o.max_at.as_ref().map(|m| (m.x, m.y, m.channel.clone()));
    assert_eq!(at, theirs.at, "max location, {what}");
    assert_eq!(
        (o.warn_pixels, o.fail_pixels),
        (theirs.warn, theirs.fail),
        "counts, {what}"
    );
    assert_eq!(ours.idiff_exit_code(), theirs.code, "exit code, {what}");
    eprintln!(
        "agrees with idiff: {what}: mean {} rms {} psnr {} max {}",
        o.mean_error, o.rms_error, o.psnr, o.max_error
    );
}

struct Files {
    _dir: tempfile::TempDir,
    pairs: Vec<(PathBuf, PathBuf)>,
}

fn pairs(scene: &Path) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let reference_path = scene.join("f1_s16_seed0_a.exr");
    let reference = read_image(&reference_path).unwrap();
    let other_seed = scene.join("f1_s16_seed1.exr");
    let mut pairs: Vec<(PathBuf, PathBuf)> = [
        "f1_s16_seed0_b.exr",
        "f1_s16_seed1.exr",
        "f1_s20_seed0.exr",
        "f1_s1_seed0.exr",
        "f2_s16_seed0.exr",
        "other_f1_s16.exr",
    ]
    .iter()
    .map(|n| (reference_path.clone(), scene.join(n)))
    .collect();
    pairs.push((
        scene.join("ml_f1_s16_seed0_a.exr"),
        scene.join("ml_f1_s16_seed1.exr"),
    ));
    let tampered = [
        ("patch.exr", tamper::painted_patch(&reference, 70, 40)),
        ("bright.exr", tamper::scaled(&reference, 1.05)),
        ("black.exr", tamper::black(&reference)),
        ("green.exr", tamper::channel_zeroed(&reference, "G")),
    ];
    for (name, image) in tampered {
        let path = dir.path().join(name);
        files::write_exr(&image, &path);
        pairs.push((other_seed.clone(), path));
    }
    Files { _dir: dir, pairs }
}

#[test]
fn numbers_and_exit_codes_agree_with_idiff() {
    if !support::require_tool("idiff") {
        return;
    }
    let Some(scene) = support::scene() else {
        return;
    };
    let files = pairs(scene);
    let loose = IdiffThresholds {
        fail: 0.5,
        warn: 0.05,
        fail_percent: 1.0,
        warn_percent: 10.0,
        ..IdiffThresholds::default()
    };
    let loose_flags = [
        "-fail",
        "0.5",
        "-warn",
        "0.05",
        "-failpercent",
        "1",
        "-warnpercent",
        "10",
    ];
    let hard = IdiffThresholds {
        fail: 0.5,
        fail_percent: 50.0,
        warn: 2.0,
        hard_fail: 3.0,
        hard_warn: 0.9,
        ..IdiffThresholds::default()
    };
    let hard_flags = [
        "-fail",
        "0.5",
        "-failpercent",
        "50",
        "-warn",
        "2",
        "-hardfail",
        "3",
        "-hardwarn",
        "0.9",
    ];
    let warn_only = IdiffThresholds {
        fail: 10.0,
        warn: 0.05,
        hard_fail: 0.1,
        hard_warn: 0.1,
        ..IdiffThresholds::default()
    };
    let warn_only_flags = [
        "-fail",
        "10",
        "-warn",
        "0.05",
        "-hardfail",
        "0.1",
        "-hardwarn",
        "0.1",
    ];
    for (a, b) in &files.pairs {
        check(a, b, &[], IdiffThresholds::default());
        check(a, b, &loose_flags, loose);
        check(a, b, &hard_flags, hard);
        check(a, b, &warn_only_flags, warn_only);
    }
}

fn exit_code(program: &str, a: &Path, b: &Path) -> i32 {
    Command::new(program)
        .arg(a)
        .arg(b)
        .output()
        .expect("run")
        .status
        .code()
        .unwrap()
}

#[test]
fn cli_exit_codes_match_idiff_on_bad_input() {
    if !support::require_tool("idiff") {
        return;
    }
    let Some(scene) = support::scene() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = scene.join("f1_s16_seed0_a.exr");
    let reference = read_image(&good).unwrap();
    let small = dir.path().join("small.exr");
    files::write_exr(&files::cropped(&reference, 100, 50), &small);
    let truncated = dir.path().join("truncated.exr");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = dir.path().join("garbage.exr");
    std::fs::write(&garbage, b"this is not an image at all").unwrap();
    let missing = dir.path().join("missing.exr");
    let ours = env!("CARGO_BIN_EXE_frame-diff");
    // (a, b, frame-diff's code, whether idiff 2.4 gives the same code).
    // idiff 2.4 compares images of different sizes over the union of their
    // data windows and reports a failure (2) where frame-diff uses idiff's
    // own "different size" code 3; it also reads truncated EXRs leniently
    // (missing blocks become black) where frame-diff refuses them (4).
    let cases = [
        (good.clone(), good.clone(), 0, true),
        (good.clone(), scene.join("f1_s16_seed1.exr"), 2, true),
        (good.clone(), small.clone(), 3, false),
        (good.clone(), missing.clone(), 4, true),
        (missing.clone(), good.clone(), 4, true),
        (good.clone(), truncated.clone(), 4, false),
        (good.clone(), garbage.clone(), 4, true),
    ];
    for (a, b, expected, idiff_agrees) in cases {
        let mine = exit_code(ours, &a, &b);
        assert_eq!(mine, expected, "frame-diff {} {}", a.display(), b.display());
        if idiff_agrees {
            assert_eq!(
                exit_code("idiff", &a, &b),
                expected,
                "idiff {} {}",
                a.display(),
                b.display()
            );
        }
    }
}
