//! Verdicts on real Blender renders: honest pairs are never a mismatch,
//! every tampered copy is. Run with `--nocapture` to see the measurements
//! the default thresholds were chosen from.

mod support;

use std::path::Path;

use frame_diff::{CompareConfig, Comparison, FrameImage, Verdict, compare, read_image};
use support::tamper;

fn load(dir: &Path, name: &str) -> FrameImage {
    read_image(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn row(label: &str, c: &Comparison) {
    let bias = c.worst_bias_tile().map_or(0.0, |t| t.bias);
    let flip = c
        .flip
        .as_ref()
        .map_or((0.0, 0.0), |f| (f.mean, f.worst_tile_mean));
    let noise = c.noise.map_or(1.0, |n| n.ratio);
    let mean = c.overall.as_ref().map_or(f64::NAN, |o| o.mean_error);
    eprintln!(
        "{label:<34} {:<16} mean {mean:>8.5} bias {bias:>8.4} flip {:>7.4} tile-flip {:>7.4} noise {noise:>6.3}",
        format!("{:?}", c.verdict),
        flip.0,
        flip.1,
    );
}

/// Compares both ways; returns the worse verdict (the coordinator cannot know
/// which of the two workers is honest).
fn judge(label: &str, a: &FrameImage, b: &FrameImage) -> Verdict {
    let config = CompareConfig::default();
    let ab = compare(a, b, &config);
    let ba = compare(b, a, &config);
    row(&format!("{label} (a,b)"), &ab);
    row(&format!("{label} (b,a)"), &ba);
    ab.verdict.max(ba.verdict)
}

#[test]
fn honest_pairs_pass_and_tampered_copies_are_caught() {
    let Some(dir) = support::scene() else { return };
    let reference = load(dir, "f1_s16_seed0_a.exr");
    let same = load(dir, "f1_s16_seed0_b.exr");
    let other_seed = load(dir, "f1_s16_seed1.exr");
    let more_samples = load(dir, "f1_s20_seed0.exr");

    assert_eq!(
        judge("same render twice", &reference, &same),
        Verdict::Identical
    );
    let seed = judge("another seed (device)", &reference, &other_seed);
    assert_eq!(seed, Verdict::WithinTolerance, "another seed");
    let samples = judge("16 vs 20 samples", &reference, &more_samples);
    assert!(
        samples <= Verdict::Inconclusive,
        "16 vs 20 samples: {samples:?}"
    );
    let ml_a = load(dir, "ml_f1_s16_seed0_a.exr");
    let ml_b = load(dir, "ml_f1_s16_seed1.exr");
    assert_eq!(
        judge("multilayer, another seed", &ml_a, &ml_b),
        Verdict::WithinTolerance
    );

    let tampered: Vec<(&str, FrameImage)> = vec![
        ("neighbouring frame", load(dir, "f2_s16_seed0.exr")),
        ("frame of another job", load(dir, "other_f1_s16.exr")),
        ("1-sample render", load(dir, "f1_s1_seed0.exr")),
        (
            "32x32 patch on the floor",
            tamper::painted_patch(&reference, 180, 100),
        ),
        (
            "32x32 patch on the cube",
            tamper::painted_patch(&reference, 70, 40),
        ),
        ("+5% brightness", tamper::scaled(&reference, 1.05)),
        ("black frame", tamper::black(&reference)),
        ("green zeroed", tamper::channel_zeroed(&reference, "G")),
        ("alpha zeroed", tamper::channel_zeroed(&reference, "A")),
    ];
    for (label, image) in &tampered {
        // Against the other worker's honest render (different noise) and
        // against the very render it was made from.
        assert_eq!(
            judge(label, &other_seed, image),
            Verdict::Mismatch,
            "{label} vs another seed"
        );
        assert_eq!(
            judge(label, &reference, image),
            Verdict::Mismatch,
            "{label} vs its source"
        );
    }
    let ml_patch = tamper::painted_patch(&ml_a, 180, 100);
    assert_eq!(
        judge("multilayer patch", &ml_b, &ml_patch),
        Verdict::Mismatch
    );
    let ml_diffcol = tamper::channel_zeroed(&ml_a, "ViewLayer.DiffCol.G");
    assert_eq!(
        judge("multilayer DiffCol.G zeroed", &ml_b, &ml_diffcol),
        Verdict::Mismatch
    );
}
