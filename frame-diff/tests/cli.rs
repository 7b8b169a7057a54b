//! The `frame-diff` binary: JSON output, heat map, verdict exit codes.

mod support;

use std::process::Command;

use frame_diff::read_image;

#[test]
fn json_report_heat_map_and_verdict_exit() {
    let Some(scene) = support::scene() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let heat = dir.path().join("heat.png");
    let a = scene.join("f1_s16_seed0_a.exr");
    let b = scene.join("f1_s16_seed1.exr");
    let out = Command::new(env!("CARGO_BIN_EXE_frame-diff"))
        .arg("--json")
        .arg("--diff-image")
        .arg(&heat)
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "idiff semantics: different pixels fail"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &doc["comparison"];
    assert_eq!(c["verdict"], "within_tolerance");
    assert_eq!(c["channels"], serde_json::json!(["A", "B", "G", "R"]));
    // The renders' noise differs a little from one CPU to another, so the
    // figure is the library's for these very files (idiff_agreement checks
    // the library against idiff).
    let mean = c["overall"]["mean_error"].as_f64().unwrap();
    let library = frame_diff::compare(
        &read_image(&a).unwrap(),
        &read_image(&b).unwrap(),
        &frame_diff::CompareConfig::default(),
    );
    let expected = library.overall.as_ref().unwrap().mean_error;
    assert!(
        mean > 0.0 && (mean - expected).abs() < 1e-9,
        "{mean} vs {expected}"
    );
    assert_eq!(c["tiles"].as_array().unwrap().len(), 4 * 3);
    assert!(c["flip"]["mean"].as_f64().unwrap() > 0.0);
    let map = read_image(&heat).unwrap();
    assert_eq!((map.width, map.height), (256, 144));

    let verdict_code = |b: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_frame-diff"))
            .args(["--verdict-exit", "-q"])
            .arg(&a)
            .arg(b)
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(verdict_code(&b), Some(0), "honest pair");
    assert_eq!(
        verdict_code(&scene.join("f2_s16_seed0.exr")),
        Some(2),
        "neighbouring frame"
    );
}
