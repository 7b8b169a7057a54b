//! HDR-FLIP means agree with NVIDIA's reference implementation (`flip`
//! from `pip install flip-evaluator`) within 1e-3 on Blender renders.

mod support;

use std::path::Path;
use std::process::Command;

use frame_diff::{CompareConfig, compare, read_image};
use support::{files, tamper};

fn reference_mean(a: &Path, b: &Path, out: &Path) -> f64 {
    let output = Command::new("flip")
        .args(["-v", "1", "-nerm", "-nexm", "-d"])
        .arg(out)
        .arg("-r")
        .arg(a)
        .arg("-t")
        .arg(b)
        .output()
        .expect("run flip");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Mean:"))
        .unwrap_or_else(|| panic!("no mean in flip output:\n{text}"));
    line.split(':').nth(1).unwrap().trim().parse().unwrap()
}

#[test]
fn hdr_flip_mean_agrees_with_the_reference() {
    if !support::require_tool("flip") {
        return;
    }
    let Some(scene) = support::scene() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let reference = scene.join("f1_s16_seed0_a.exr");
    let bright = dir.path().join("bright.exr");
    let patch = dir.path().join("patch.exr");
    let image = read_image(&reference).unwrap();
    files::write_exr(&tamper::scaled(&image, 1.05), &bright);
    files::write_exr(&tamper::painted_patch(&image, 70, 40), &patch);
    let tests = [
        scene.join("f1_s16_seed1.exr"),
        scene.join("f1_s20_seed0.exr"),
        scene.join("f1_s1_seed0.exr"),
        scene.join("f2_s16_seed0.exr"),
        scene.join("other_f1_s16.exr"),
        bright,
        patch,
    ];
    let config = CompareConfig::default();
    let a = read_image(&reference).unwrap();
    for test in &tests {
        let theirs = reference_mean(&reference, test, dir.path());
        let ours = compare(&a, &read_image(test).unwrap(), &config)
            .flip
            .expect("FLIP computed")
            .mean;
        eprintln!(
            "HDR-FLIP mean {}: frame-diff {ours:.6}, flip {theirs:.6}",
            test.display()
        );
        assert!(
            (ours - theirs).abs() <= 1e-3,
            "{}: frame-diff {ours} vs flip {theirs}",
            test.display()
        );
    }
}
