//! NaN and infinity: counted, matched as idiff matches them, and a mismatch verdict.

mod support;

use frame_diff::{Channel, Check, CompareConfig, FrameImage, Verdict, compare};
use support::files;

fn image(r: Vec<f32>, g: Vec<f32>) -> FrameImage {
    FrameImage {
        width: 4,
        height: 2,
        channels: vec![
            Channel {
                name: "G".into(),
                samples: g,
            },
            Channel {
                name: "R".into(),
                samples: r,
            },
        ],
    }
}

fn pair() -> (FrameImage, FrameImage) {
    let nan = f32::NAN;
    let inf = f32::INFINITY;
    let a = image(vec![0.5, nan, 0.25, inf, 1.0, 0.0, 0.5, 0.5], vec![0.1; 8]);
    let b = image(
        vec![0.5, nan, inf, inf, 0.75, 0.0, 0.5, 0.5],
        vec![0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.1],
    );
    (a, b)
}

#[test]
fn non_finite_values_are_counted_and_judged() {
    let (a, b) = pair();
    let c = compare(&a, &b, &CompareConfig::default());
    assert_eq!(
        (c.non_finite_a, c.non_finite_b),
        (a.non_finite_count(), b.non_finite_count())
    );
    assert_eq!((c.non_finite_a, c.non_finite_b), (2, 3));
    let overall = c.overall.as_ref().unwrap();
    assert_eq!(overall.max_error, f64::INFINITY);
    let at = overall.max_at.as_ref().unwrap();
    assert_eq!((at.x, at.y, at.channel.as_str()), (2, 0, "R"));
    assert_eq!(c.verdict, Verdict::Mismatch);
    assert!(c.reasons.iter().any(|r| r.check == Check::NonFinite));
}

#[test]
fn one_non_finite_mismatch_gives_idiffs_numbers() {
    if !support::require_tool("idiff") {
        return;
    }
    let (a, b) = pair();
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.exr"), dir.path().join("b.exr"));
    files::write_exr(&a, &pa);
    files::write_exr(&b, &pb);
    let out = std::process::Command::new("idiff")
        .arg("-v")
        .arg(&pa)
        .arg(&pb)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let number = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap();
        line.split('=')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let c = compare(&a, &b, &CompareConfig::default());
    let o = c.overall.as_ref().unwrap();
    for (ours, prefix) in [
        (o.mean_error, "Mean error"),
        (o.rms_error, "RMS error"),
        (o.psnr, "Peak SNR"),
    ] {
        let theirs = number(prefix);
        assert!(
            ((ours - theirs) / theirs).abs() < 1e-4,
            "{prefix}: {ours} vs {theirs}\n{text}"
        );
    }
    assert!(text.contains("Max error  = inf @ (2, 0, R)"), "{text}");
    assert_eq!(out.status.code(), Some(c.idiff_exit_code()));
}
