//! Running `farm` for the tests: the test scene, a `farm` process with
//! this machine's own settings kept out, and `farm` on a pseudo-terminal
//! (util-linux's `script`, from Debian's essential `bsdutils`, which passes
//! the exit code on) with its output read as it comes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use protocol::JobId;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::support::{blender_ready, require};

/// How long any one `farm` run may take before the test gives up on it: a
/// failsafe, not a timing assertion.
pub const FAILSAFE: Duration = Duration::from_secs(600);

/// Builds the test scene in the folder named after `--`: `scene.blend`, a
/// 32x18 Cycles scene of two frames whose plane shows the image texture
/// `textures/albedo.png` (by the relative path `//textures/albedo.png`);
/// `shots/absolute.blend`, the same scene naming the texture by its
/// absolute path; and `other.png`, a texture of another colour to swap in.
const BUILD_SCENE: &str = r#"
import os, sys
import bpy

out = sys.argv[sys.argv.index("--") + 1]
os.makedirs(os.path.join(out, "textures"), exist_ok=True)

def texture(path, rgba):
    image = bpy.data.images.new(os.path.basename(path), 4, 4)
    image.pixels = list(rgba) * 16
    image.filepath_raw = path
    image.file_format = "PNG"
    image.save()
    return image

bpy.data.images.remove(texture(os.path.join(out, "other.png"), (1.0, 0.1, 0.1, 1.0)))
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj)
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out, "scene.blend"))
albedo = texture(os.path.join(out, "textures", "albedo.png"), (0.1, 0.2, 1.0, 1.0))
albedo.filepath = "//textures/albedo.png"
bpy.ops.mesh.primitive_plane_add(size=4)
material = bpy.data.materials.new("textured")
material.use_nodes = True
nodes = material.node_tree.nodes
image = nodes.new("ShaderNodeTexImage")
image.image = albedo
emission = nodes.new("ShaderNodeEmission")
material.node_tree.links.new(image.outputs["Color"], emission.inputs["Color"])
material.node_tree.links.new(emission.outputs["Emission"], nodes["Material Output"].inputs["Surface"])
bpy.context.object.data.materials.append(material)
bpy.ops.object.camera_add(location=(0, 0, 3))
scene = bpy.context.scene
scene.camera = bpy.context.object
scene.render.engine = "CYCLES"
scene.cycles.samples = 1
scene.render.resolution_x, scene.render.resolution_y = 32, 18
scene.render.resolution_percentage = 100
scene.frame_start, scene.frame_end = 1, 2
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out, "scene.blend"), compress=True)
albedo.filepath = os.path.join(out, "textures", "albedo.png")
os.makedirs(os.path.join(out, "shots"))
bpy.ops.wm.save_as_mainfile(
    filepath=os.path.join(out, "shots", "absolute.blend"), compress=True, copy=True, relative_remap=False
)
"#;

/// The test scene's files.
pub struct Scene {
    /// The .blend.
    pub blend: PathBuf,
    /// The same scene naming its texture by an absolute path.
    pub absolute: PathBuf,
    /// The texture it uses.
    pub texture: PathBuf,
    /// Another texture, to swap in.
    pub other: PathBuf,
}

/// Build the test scene under `dir` with Blender.
pub fn build_scene(dir: &Path) -> Scene {
    let script = dir.join("build_scene.py");
    std::fs::write(&script, BUILD_SCENE).unwrap();
    let out = dir.join("project");
    let status = std::process::Command::new("blender")
        .args([
            "-b",
            "--factory-startup",
            "--python-exit-code",
            "1",
            "--python",
        ])
        .arg(&script)
        .arg("--")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("blender runs");
    assert!(status.success(), "the scene builds: {status}");
    Scene {
        blend: out.join("scene.blend"),
        absolute: out.join("shots/absolute.blend"),
        texture: out.join("textures/albedo.png"),
        other: out.join("other.png"),
    }
}

/// Whether the tests can run here: Blender, and `script` for the
/// pseudo-terminal (each fails the test in CI when missing).
pub fn ready() -> bool {
    let script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    blender_ready() && require("script (util-linux, Debian's bsdutils)", script)
}

/// The `farm` binary built next to this test binary.
fn farm_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let binary = dir.join("farm");
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// `farm` with `args`, talking to `url` with `token`, with an empty
/// config folder so nothing of this machine's own settings leaks in.
pub fn farm(
    config_home: &Path,
    url: &str,
    token: Option<&str>,
    args: &[&str],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(farm_binary());
    command
        .args(args)
        .env_remove("FARM_TOKEN")
        .env_remove("FARM_CONFIG")
        .env_remove("FARM_BLENDER")
        .env("FARM_URL", url)
        .env("XDG_CONFIG_HOME", config_home)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(token) = token {
        command.env("FARM_TOKEN", token);
    }
    command
}

/// What a finished `farm` run printed and how it ended.
pub struct Run {
    /// Its exit code.
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Run `command` to its end.
pub async fn run(mut command: tokio::process::Command) -> Run {
    let output = tokio::time::timeout(FAILSAFE, command.output())
        .await
        .expect("farm ends")
        .expect("farm runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `text` quoted for `sh`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A `farm` run on a pseudo-terminal (`script -qec`), its output read as
/// it comes.
pub struct Terminal {
    child: tokio::process::Child,
    output: watch::Receiver<String>,
}

impl Terminal {
    /// Start `farm args` on a pseudo-terminal, environment as [`farm`]'s.
    pub fn start(config_home: &Path, url: &str, token: &str, args: &[&str]) -> Self {
        let line = std::iter::once(farm_binary().display().to_string())
            .chain(args.iter().map(|a| a.to_string()))
            .map(|word| quoted(&word))
            .collect::<Vec<_>>()
            .join(" ");
        let mut command = tokio::process::Command::new("script");
        command
            .args(["-qec", &line, "/dev/null"])
            .env_remove("FARM_CONFIG")
            .env_remove("FARM_BLENDER")
            .env("FARM_URL", url)
            .env("FARM_TOKEN", token)
            .env("XDG_CONFIG_HOME", config_home)
            .env("TERM", "xterm")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("script runs");
        let mut stdout = child.stdout.take().expect("piped");
        let (tx, output) = watch::channel(String::new());
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                let chunk = String::from_utf8_lossy(&buffer[..n]).into_owned();
                tx.send_modify(|text| text.push_str(&chunk));
            }
        });
        Self { child, output }
    }

    /// Wait until the output so far satisfies `found`; its answer.
    pub async fn wait_for<T>(&mut self, found: impl Fn(&str) -> Option<T>) -> T {
        let seen =
            tokio::time::timeout(FAILSAFE, self.output.wait_for(|text| found(text).is_some()))
                .await
                .expect("the output came")
                .expect("output readable")
                .clone();
        found(&seen).expect("checked")
    }

    /// Wait for the end; its exit code and everything it printed.
    pub async fn finish(mut self) -> (Option<i32>, String) {
        let status = match tokio::time::timeout(FAILSAFE, self.child.wait()).await {
            Ok(status) => status.expect("exit status"),
            Err(_) => panic!(
                "farm did not end within {FAILSAFE:?}; it printed:\n{}",
                self.output.borrow().as_str()
            ),
        };
        // The reader ends at the pseudo-terminal's end of file.
        let _ = self.output.wait_for(|_| false).await;
        (status.code(), self.output.borrow().clone())
    }
}

/// The first job id after `job ` in `text`.
pub fn job_id(text: &str) -> Option<JobId> {
    text.match_indices("job ")
        .find_map(|(at, _)| text.get(at + 4..at + 40)?.parse().ok())
}
