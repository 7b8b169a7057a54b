//! `samples/scene.py` still builds the sample scene the other tests render.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_sample_scene_script_builds_a_small_animated_cycles_scene() {
    if !common::blender_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let blend = dir.path().join("generated.blend");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/scene.py");
    let built = Command::new("blender")
        .args([
            "-b",
            "--factory-startup",
            "--python-exit-code",
            "1",
            "--python",
        ])
        .arg(&script)
        .arg("--")
        .arg(&blend)
        .args(["--frames", "5"])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stdout)
    );
    let size = std::fs::metadata(&blend).unwrap().len();
    assert!(size < 1024 * 1024, "{size} bytes");

    let inspected = Command::new("blender")
        .args(["-b", "--factory-startup", "--disable-autoexec"])
        .arg(&blend)
        .args([
            "--python-exit-code",
            "1",
            "--python-expr",
            "import bpy\ns = bpy.context.scene\nprint('SCENE', s.render.engine, s.frame_start, s.frame_end, \
             s.render.resolution_x, s.render.resolution_y, s.cycles.samples, s.cycles.use_denoising, \
             s.render.image_settings.file_format)",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&inspected.stdout);
    assert!(
        stdout.contains("SCENE CYCLES 1 5 160 90 16 False OPEN_EXR"),
        "{stdout}"
    );
}
