//! Blender's command line for one task: the argument vector and the Python
//! settings script that runs on the loaded scene.
//!
//! Blender processes its arguments in order, so the order is the contract:
//! `-b`, the security switches, the scene, the settings script (it must see
//! the loaded scene), then output path, format and frames (rendering starts at
//! `-a` / `-f`, so those come last).
//!
//! Blender writes only inside the task's folder: the `-o` pattern is a
//! [`TaskOutput`], a path checked to resolve inside the canonical task folder
//! before Blender starts, and the settings script mutes the scene's own
//! compositor File Output nodes (a scene, from an untrusted client, may point
//! them anywhere).

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use protocol::{ExrDepth, Overrides, RenderDevice};

use super::output::RenderBackend;
use crate::process::Launch;

/// Highest frame number Blender accepts (`MAXFRAME`).
pub const MAX_FRAME: i32 = 1_048_574;

/// Exit code Blender returns when the settings script raises.
pub const SETTINGS_SCRIPT_EXIT_CODE: i32 = 3;

/// Prefix of the line the settings script prints with the output size.
pub const SIZE_MARKER: &str = "RENDERFARM_SIZE";

/// Prefix of the line the settings script prints with the device Cycles
/// renders on: `FARM-DEVICE: OPTIX`, `FARM-DEVICE: CUDA` or `FARM-DEVICE: CPU`.
pub const DEVICE_MARKER: &str = "FARM-DEVICE:";

/// Folder of the rendered frames inside the task folder.
pub const OUTPUT_DIR: &str = "out";

/// File name pattern of the rendered frames inside the output folder
/// (`frame_000012.exr`).
pub const FRAME_PATTERN: &str = "frame_######";

/// Why an output path was refused.
#[derive(Debug, thiserror::Error)]
pub enum OutputPathError {
    /// The path names no file.
    #[error("the output path {0:?} is empty")]
    Empty(PathBuf),
    /// The path is absolute; it must be relative to the task folder.
    #[error("the output path {0:?} is absolute; it must be relative to the task folder")]
    Absolute(PathBuf),
    /// The path climbs out with `..`.
    #[error("the output path {0:?} contains `..`")]
    ParentDir(PathBuf),
    /// The path holds a NUL, a control character (a line break would forge
    /// Blender's output lines) or a backslash (a separator to some of
    /// Blender's path code).
    #[error("the output path {path:?} contains the forbidden character {character:?}")]
    ForbiddenCharacter {
        /// The path.
        path: PathBuf,
        /// The first forbidden character.
        character: char,
    },
    /// The path is not UTF-8.
    #[error("the output path {0:?} is not valid UTF-8")]
    NotUtf8(PathBuf),
    /// The path goes through a link that leads outside the task folder.
    #[error(
        "the output path {path:?} resolves to {resolved:?}, outside the task folder {task_dir:?}"
    )]
    Escapes {
        /// The path.
        path: PathBuf,
        /// Where it leads.
        resolved: PathBuf,
        /// The canonical task folder.
        task_dir: PathBuf,
    },
    /// A folder on the way could not be resolved (a dangling link, no access).
    #[error("cannot resolve {path:?} on the output path: {source}")]
    Resolve {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Where Blender writes a task's frames: a file name pattern in a folder
/// that resolves inside the task folder. Only [`TaskOutput::confine`] makes
/// one, so a [`RenderCommand`] cannot point Blender elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutput {
    /// The folder the frames are written to (canonical where it exists).
    dir: PathBuf,
    /// `dir` joined with the file name pattern: Blender's `-o`.
    pattern: PathBuf,
}

impl TaskOutput {
    /// The task's standard output, `OUTPUT_DIR/FRAME_PATTERN` in `task_dir`.
    pub fn frames_in(task_dir: &Path) -> Result<Self, OutputPathError> {
        Self::confine(task_dir, &Path::new(OUTPUT_DIR).join(FRAME_PATTERN))
    }

    /// `relative` (a folder path and a file name pattern) inside `task_dir`,
    /// refused when it is empty, absolute, contains `..`, a NUL, a control
    /// character or a backslash, is not UTF-8, or resolves (through links)
    /// outside the canonical `task_dir`. Folders that do not exist yet are
    /// allowed (Blender creates them); they cannot lead out, since every part
    /// of the path is a plain name.
    pub fn confine(task_dir: &Path, relative: &Path) -> Result<Self, OutputPathError> {
        let refused = || relative.to_owned();
        let text = relative
            .to_str()
            .ok_or_else(|| OutputPathError::NotUtf8(refused()))?;
        if let Some(character) = text.chars().find(|c| c.is_control() || *c == '\\') {
            return Err(OutputPathError::ForbiddenCharacter {
                path: refused(),
                character,
            });
        }
        let mut parts = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(part) => parts.push(part),
                Component::CurDir => {}
                Component::ParentDir => return Err(OutputPathError::ParentDir(refused())),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(OutputPathError::Absolute(refused()));
                }
            }
        }
        let Some((file_name, folders)) = parts.split_last() else {
            return Err(OutputPathError::Empty(refused()));
        };
        let root = std::fs::canonicalize(task_dir).map_err(|source| OutputPathError::Resolve {
            path: task_dir.to_owned(),
            source,
        })?;
        let mut dir = root.clone();
        for folder in folders {
            let next = dir.join(folder);
            dir = match std::fs::symlink_metadata(&next) {
                Ok(_) => std::fs::canonicalize(&next)
                    .map_err(|source| OutputPathError::Resolve { path: next, source })?,
                Err(error) if error.kind() == io::ErrorKind::NotFound => next,
                Err(source) => return Err(OutputPathError::Resolve { path: next, source }),
            };
            if !dir.starts_with(&root) {
                return Err(OutputPathError::Escapes {
                    path: refused(),
                    resolved: dir,
                    task_dir: root,
                });
            }
        }
        let pattern = dir.join(file_name);
        Ok(Self { dir, pattern })
    }

    /// The folder the frames are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The full pattern given to Blender's `-o`.
    pub fn pattern(&self) -> &Path {
        &self.pattern
    }
}

/// Why a task's frames cannot be given to Blender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameSelectionError {
    /// The task lists no frames.
    #[error("the task lists no frames")]
    Empty,
    /// Blender reads `-f -3` as "3 before the end": negative frames cannot be
    /// asked for on its command line.
    #[error("frame {0} is out of Blender's range 0..={MAX_FRAME}")]
    OutOfRange(i32),
}

/// Which frames to render, in the form Blender's command line takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameSelection {
    /// `-s start -e end -j step -a`: an increasing arithmetic run (a single
    /// frame is a run of one).
    Range {
        /// First frame.
        start: i32,
        /// Last frame (inclusive, reached by the step).
        end: i32,
        /// Step between frames, at least 1.
        step: i32,
    },
    /// `-f a,b,c`: any other list, rendered in the given order.
    List(Vec<i32>),
}

impl FrameSelection {
    /// The selection for a task's frames (kept in their order).
    pub fn from_frames(frames: &[i32]) -> Result<Self, FrameSelectionError> {
        let (&first, rest) = frames.split_first().ok_or(FrameSelectionError::Empty)?;
        if let Some(&bad) = frames.iter().find(|f| !(0..=MAX_FRAME).contains(*f)) {
            return Err(FrameSelectionError::OutOfRange(bad));
        }
        let Some(&second) = rest.first() else {
            return Ok(Self::Range {
                start: first,
                end: first,
                step: 1,
            });
        };
        let step = second - first;
        let arithmetic = step >= 1 && frames.windows(2).all(|w| w[1] - w[0] == step);
        Ok(if arithmetic {
            Self::Range {
                start: first,
                end: *frames.last().unwrap_or(&first),
                step,
            }
        } else {
            Self::List(frames.to_vec())
        })
    }

    /// The trailing Blender arguments that render this selection.
    pub fn args(&self) -> Vec<String> {
        match self {
            Self::Range { start, end, step } => vec![
                "-s".into(),
                start.to_string(),
                "-e".into(),
                end.to_string(),
                "-j".into(),
                step.to_string(),
                "-a".into(),
            ],
            Self::List(frames) => {
                let list: Vec<String> = frames.iter().map(i32::to_string).collect();
                vec!["-f".into(), list.join(",")]
            }
        }
    }
}

/// Everything needed to build one render invocation.
#[derive(Debug, Clone)]
pub struct RenderCommand {
    /// The Blender executable.
    pub blender: PathBuf,
    /// The scene file (inside the task's working directory).
    pub scene: PathBuf,
    /// Where the frames are written, confined to the task folder.
    pub output: TaskOutput,
    /// Frames to render.
    pub frames: FrameSelection,
    /// EXR channel depth.
    pub depth: ExrDepth,
    /// Render setting overrides.
    pub overrides: Overrides,
    /// Render threads (`-t`); None lets Blender use every core.
    pub threads: Option<u32>,
    /// UUID of the one GPU Blender may see (`CUDA_VISIBLE_DEVICES`); None
    /// leaves every GPU visible.
    pub gpu: Option<String>,
    /// The device the task asks for.
    pub device: RenderDevice,
    /// Whether the worker announced at least one GPU.
    pub has_gpu: bool,
}

impl RenderCommand {
    /// The Blender run: the program, [`RenderCommand::args`], and beyond
    /// the minimal environment `CUDA_VISIBLE_DEVICES` when a GPU is pinned.
    pub fn launch(&self) -> Launch {
        Launch {
            program: self.blender.clone(),
            args: self.args(),
            env: self
                .gpu
                .iter()
                .map(|uuid| ("CUDA_VISIBLE_DEVICES".to_owned(), uuid.clone()))
                .collect(),
        }
    }

    /// The device the settings script asks Cycles for: the GPU when the task
    /// asks for one and the worker has one (Cycles may still fall back to the
    /// CPU), the CPU otherwise.
    pub fn device_to_try(&self) -> RenderDevice {
        match self.device {
            RenderDevice::Gpu if self.has_gpu => RenderDevice::Gpu,
            RenderDevice::Cpu | RenderDevice::Gpu => RenderDevice::Cpu,
        }
    }

    /// The backend a device line of this command's Blender is taken as: the
    /// one it names, but never a GPU when the script did not try one (such a
    /// line is forged).
    pub fn credible_backend(&self, said: RenderBackend) -> RenderBackend {
        match self.device_to_try() {
            RenderDevice::Gpu => said,
            RenderDevice::Cpu => RenderBackend::Cpu,
        }
    }

    /// The arguments, in Blender's processing order.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "-b".into(),
            "--factory-startup".into(),
            "--disable-autoexec".into(),
            self.scene.clone().into(),
            "--python-exit-code".into(),
            SETTINGS_SCRIPT_EXIT_CODE.to_string().into(),
            "--python-expr".into(),
            settings_script(self.depth, &self.overrides, self.device_to_try()).into(),
            "-o".into(),
            self.output.pattern().into(),
            "-F".into(),
            "OPEN_EXR".into(),
        ];
        if let Some(threads) = self.threads {
            args.extend(["-t".into(), threads.to_string().into()]);
        }
        args.extend(self.frames.args().into_iter().map(OsString::from));
        args
    }
}

/// The Python run on the loaded scene before rendering: deterministic Cycles
/// on the device (see `device_script`), no denoising, the requested EXR
/// depth, the overrides, every compositor File Output node muted (in every
/// scene and node group: they write wherever the scene says, and the worker
/// delivers only `-o`'s frames); then it prints the device Cycles renders on
/// ([`DEVICE_MARKER`]) and the output size ([`SIZE_MARKER`]) so the worker
/// can report the one and check the frames against the other.
///
/// The scene's own seed is kept (it is a fixed number stored in the file, so
/// every replica uses the same one); the animated seed makes each frame's
/// noise a function of that seed and the frame number alone.
pub fn settings_script(depth: ExrDepth, overrides: &Overrides, device: RenderDevice) -> String {
    let color_depth = match depth {
        ExrDepth::Half => "16",
        ExrDepth::Float => "32",
    };
    let mut script = String::from(
        "import bpy\n\
         scene = bpy.context.scene\n\
         render = scene.render\n",
    );
    script.push_str(device_script(device));
    script.push_str(
        "scene.cycles.use_animated_seed = True\n\
         scene.cycles.use_denoising = False\n\
         for layer in scene.view_layers:\n\
         \x20   layer.cycles.denoising_store_passes = False\n\
         \x20   layer.cycles.use_denoising = False\n\
         render.use_crop_to_border = False\n\
         render.use_overwrite = True\n\
         render.use_placeholder = False\n\
         render.use_file_extension = True\n\
         render.image_settings.file_format = 'OPEN_EXR'\n\
         render.image_settings.exr_codec = 'ZIP'\n\
         for tree in [s.node_tree for s in bpy.data.scenes] + list(bpy.data.node_groups):\n\
         \x20   for node in (tree.nodes if tree is not None else []):\n\
         \x20       if node.bl_idname == 'CompositorNodeOutputFile':\n\
         \x20           node.mute = True\n",
    );
    script.push_str(&format!(
        "render.image_settings.color_depth = '{color_depth}'\n"
    ));
    if let Some([width, height]) = overrides.resolution {
        script.push_str(&format!(
            "render.resolution_x = {width}\n\
             render.resolution_y = {height}\n\
             render.resolution_percentage = 100\n"
        ));
    }
    if let Some(samples) = overrides.samples {
        script.push_str(&format!("scene.cycles.samples = {samples}\n"));
    }
    script.push_str(&format!(
        "print('{DEVICE_MARKER}', farm_device, flush=True)\n"
    ));
    script.push_str(&format!(
        "print('{SIZE_MARKER}', render.resolution_x * render.resolution_percentage // 100, \
         render.resolution_y * render.resolution_percentage // 100, flush=True)\n"
    ));
    script
}

/// The part of the settings script that picks Cycles' device and leaves its
/// name (`OPTIX`, `CUDA` or `CPU`) in `farm_device`.
///
/// For the CPU, Cycles is forced onto it. For the GPU, the compute device
/// types OptiX and CUDA are tried in that order: a type this Blender lacks
/// cannot be set (a `TypeError`), one without a device lists none; the
/// devices of the first type that has one are enabled and the CPU is not
/// (no hybrid rendering). `refresh_devices` is Blender 3.0's name for what
/// `get_devices` did before (it is kept, deprecated, in 3.x and 4.x), and
/// `get_devices_for_type` lists the type's devices followed by the CPU. When
/// no type has a device, Cycles renders on the CPU.
fn device_script(device: RenderDevice) -> &'static str {
    match device {
        RenderDevice::Cpu => {
            "farm_device = 'CPU'\n\
             scene.cycles.device = 'CPU'\n"
        }
        RenderDevice::Gpu => {
            "farm_device = 'CPU'\n\
             prefs = bpy.context.preferences.addons['cycles'].preferences\n\
             for kind in ('OPTIX', 'CUDA'):\n\
             \x20   try:\n\
             \x20       prefs.compute_device_type = kind\n\
             \x20       getattr(prefs, 'refresh_devices', prefs.get_devices)()\n\
             \x20       devices = prefs.get_devices_for_type(kind)\n\
             \x20   except Exception as error:\n\
             \x20       print('renderfarm: cannot render with', kind, '-', error, flush=True)\n\
             \x20       continue\n\
             \x20   for d in devices:\n\
             \x20       d.use = d.type != 'CPU'\n\
             \x20   if any(d.use for d in devices):\n\
             \x20       farm_device = kind\n\
             \x20       break\n\
             scene.cycles.device = 'CPU' if farm_device == 'CPU' else 'GPU'\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command for a task in `task`.
    fn command(task: &tempfile::TempDir, frames: &[i32], overrides: Overrides) -> RenderCommand {
        RenderCommand {
            blender: "blender".into(),
            scene: "/work/task/scene.blend".into(),
            output: TaskOutput::frames_in(task.path()).unwrap(),
            frames: FrameSelection::from_frames(frames).unwrap(),
            depth: ExrDepth::Half,
            overrides,
            threads: None,
            gpu: None,
            device: RenderDevice::Cpu,
            has_gpu: false,
        }
    }

    fn strings(command: &RenderCommand) -> Vec<String> {
        command
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    fn position(args: &[String], arg: &str) -> usize {
        args.iter()
            .position(|a| a == arg)
            .unwrap_or_else(|| panic!("{arg} missing from {args:?}"))
    }

    #[test]
    fn autoexec_is_disabled_and_never_enabled() {
        let task = tempfile::tempdir().unwrap();
        let args = strings(&command(&task, &[1, 2, 3], Overrides::default()));
        assert!(args.contains(&"--disable-autoexec".to_owned()));
        for enabling in ["-y", "--enable-autoexec"] {
            assert!(!args.iter().any(|a| a == enabling), "{args:?}");
        }
        assert!(position(&args, "--disable-autoexec") < position(&args, "/work/task/scene.blend"));
        assert_eq!(args[0], "-b");
    }

    #[test]
    fn settings_run_after_the_scene_loads_and_before_rendering() {
        let task = tempfile::tempdir().unwrap();
        let args = strings(&command(&task, &[4, 9, 5], Overrides::default()));
        let scene = position(&args, "/work/task/scene.blend");
        let exit_code = position(&args, "--python-exit-code");
        let expr = position(&args, "--python-expr");
        assert!(scene < exit_code && exit_code < expr);
        for later in ["-o", "-F", "-f"] {
            assert!(
                expr < position(&args, later),
                "{later} must follow the settings"
            );
        }
        let canonical = std::fs::canonicalize(task.path()).unwrap();
        assert_eq!(
            Path::new(&args[position(&args, "-o") + 1]),
            canonical.join("out/frame_######")
        );
        assert_eq!(args[position(&args, "-F") + 1], "OPEN_EXR");
        assert_eq!(args.last().unwrap(), "4,9,5");
    }

    #[test]
    fn stepped_runs_use_start_end_jump() {
        let task = tempfile::tempdir().unwrap();
        let args = strings(&command(&task, &[10, 12, 14], Overrides::default()));
        let tail: Vec<&str> = args[args.len() - 7..].iter().map(String::as_str).collect();
        assert_eq!(tail, ["-s", "10", "-e", "14", "-j", "2", "-a"]);
    }

    #[test]
    fn frames_map_to_ranges_or_lists() {
        let range = |start, end, step| FrameSelection::Range { start, end, step };
        assert_eq!(FrameSelection::from_frames(&[7]), Ok(range(7, 7, 1)));
        assert_eq!(FrameSelection::from_frames(&[1, 2, 3]), Ok(range(1, 3, 1)));
        assert_eq!(
            FrameSelection::from_frames(&[0, 5, 10]),
            Ok(range(0, 10, 5))
        );
        assert_eq!(
            FrameSelection::from_frames(&[3, 2, 1]),
            Ok(FrameSelection::List(vec![3, 2, 1]))
        );
        assert_eq!(
            FrameSelection::from_frames(&[1, 2, 4]),
            Ok(FrameSelection::List(vec![1, 2, 4]))
        );
        assert_eq!(
            FrameSelection::from_frames(&[]),
            Err(FrameSelectionError::Empty)
        );
        assert_eq!(
            FrameSelection::from_frames(&[1, -2]),
            Err(FrameSelectionError::OutOfRange(-2))
        );
        assert_eq!(
            FrameSelection::from_frames(&[MAX_FRAME + 1]),
            Err(FrameSelectionError::OutOfRange(MAX_FRAME + 1))
        );
        assert_eq!(
            FrameSelection::List(vec![1, 5, 9]).args(),
            ["-f".to_owned(), "1,5,9".to_owned()]
        );
    }

    #[test]
    fn settings_force_determinism_and_apply_overrides() {
        let plain = settings_script(ExrDepth::Half, &Overrides::default(), RenderDevice::Cpu);
        for line in [
            "scene.cycles.device = 'CPU'",
            "scene.cycles.use_animated_seed = True",
            "scene.cycles.use_denoising = False",
            "layer.cycles.denoising_store_passes = False",
            "layer.cycles.use_denoising = False",
            "render.image_settings.exr_codec = 'ZIP'",
            "render.image_settings.color_depth = '16'",
        ] {
            assert!(plain.contains(line), "{line} missing from\n{plain}");
        }
        assert!(!plain.contains("resolution_x ="));
        assert!(!plain.contains("samples ="));

        let overridden = settings_script(
            ExrDepth::Float,
            &Overrides {
                resolution: Some([64, 32]),
                samples: Some(4),
            },
            RenderDevice::Cpu,
        );
        for line in [
            "render.image_settings.color_depth = '32'",
            "render.resolution_x = 64",
            "render.resolution_y = 32",
            "render.resolution_percentage = 100",
            "scene.cycles.samples = 4",
        ] {
            assert!(
                overridden.contains(line),
                "{line} missing from\n{overridden}"
            );
        }
    }

    #[test]
    fn the_standard_output_lies_in_the_canonical_task_folder() {
        let task = tempfile::tempdir().unwrap();
        let canonical = std::fs::canonicalize(task.path()).unwrap();
        let fresh = TaskOutput::frames_in(task.path()).unwrap();
        assert_eq!(fresh.dir(), canonical.join(OUTPUT_DIR));
        assert_eq!(fresh.pattern(), canonical.join("out/frame_######"));
        std::fs::create_dir(task.path().join(OUTPUT_DIR)).unwrap();
        assert_eq!(TaskOutput::frames_in(task.path()).unwrap(), fresh);
        // Reached through a link to the task folder, or with `./`, it is the same.
        let elsewhere = tempfile::tempdir().unwrap();
        let link = elsewhere.path().join("task");
        std::os::unix::fs::symlink(task.path(), &link).unwrap();
        assert_eq!(TaskOutput::frames_in(&link).unwrap(), fresh);
        assert_eq!(
            TaskOutput::confine(task.path(), Path::new("./out/./frame_######")).unwrap(),
            fresh
        );
        // A link that stays inside is followed.
        std::os::unix::fs::symlink(task.path().join(OUTPUT_DIR), task.path().join("alias"))
            .unwrap();
        assert_eq!(
            TaskOutput::confine(task.path(), Path::new("alias/frame_######")).unwrap(),
            fresh
        );
    }

    #[test]
    fn absolute_parent_and_empty_output_paths_are_refused() {
        let task = tempfile::tempdir().unwrap();
        let confine = |path: &str| TaskOutput::confine(task.path(), Path::new(path));
        for absolute in ["/tmp/frame_######", "//frame_######", "/"] {
            assert!(
                matches!(confine(absolute), Err(OutputPathError::Absolute(_))),
                "{absolute}"
            );
        }
        for climbing in ["../frame_######", "out/../../frame_######", "out/..", ".."] {
            assert!(
                matches!(confine(climbing), Err(OutputPathError::ParentDir(_))),
                "{climbing}"
            );
        }
        for empty in ["", ".", "./"] {
            assert!(
                matches!(confine(empty), Err(OutputPathError::Empty(_))),
                "{empty:?}"
            );
        }
        let error = confine("../frame_######").unwrap_err().to_string();
        assert!(error.contains("contains `..`"), "{error}");
    }

    #[test]
    fn nul_control_backslash_and_non_utf8_output_paths_are_refused() {
        use std::os::unix::ffi::OsStrExt;

        let task = tempfile::tempdir().unwrap();
        for (path, forbidden) in [
            ("out/frame\0_######", '\0'),
            ("out/frame_######\nSaved: '/etc/passwd'", '\n'),
            ("out\\..\\..\\frame_######", '\\'),
        ] {
            match TaskOutput::confine(task.path(), Path::new(path)) {
                Err(OutputPathError::ForbiddenCharacter { character, .. }) => {
                    assert_eq!(character, forbidden, "{path:?}");
                }
                other => panic!("{path:?}: {other:?}"),
            }
        }
        let latin1 = Path::new(std::ffi::OsStr::from_bytes(b"out/fr\xe9me_######"));
        assert!(matches!(
            TaskOutput::confine(task.path(), latin1),
            Err(OutputPathError::NotUtf8(_))
        ));
    }

    #[test]
    fn output_paths_through_links_leading_out_are_refused() {
        let task = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), task.path().join(OUTPUT_DIR)).unwrap();
        match TaskOutput::frames_in(task.path()) {
            Err(OutputPathError::Escapes { resolved, .. }) => {
                assert_eq!(resolved, std::fs::canonicalize(outside.path()).unwrap());
            }
            other => panic!("{other:?}"),
        }
        std::os::unix::fs::symlink(task.path().join("nowhere"), task.path().join("dangling"))
            .unwrap();
        assert!(matches!(
            TaskOutput::confine(task.path(), Path::new("dangling/frame_######")),
            Err(OutputPathError::Resolve { .. })
        ));
        assert!(matches!(
            TaskOutput::frames_in(&task.path().join("missing")),
            Err(OutputPathError::Resolve { .. })
        ));
    }

    #[test]
    fn settings_mute_the_scenes_file_output_nodes() {
        let script = settings_script(ExrDepth::Half, &Overrides::default(), RenderDevice::Cpu);
        for line in [
            "for tree in [s.node_tree for s in bpy.data.scenes] + list(bpy.data.node_groups):",
            "        if node.bl_idname == 'CompositorNodeOutputFile':",
            "            node.mute = True",
        ] {
            assert!(
                script.lines().any(|l| l == line),
                "{line} missing from\n{script}"
            );
        }
    }

    /// The settings script of `command`.
    fn script_of(command: &RenderCommand) -> String {
        let args = strings(command);
        args[position(&args, "--python-expr") + 1].clone()
    }

    #[test]
    fn the_gpu_is_tried_only_for_a_gpu_task_on_a_worker_with_a_gpu() {
        let task = tempfile::tempdir().unwrap();
        for (device, has_gpu) in [
            (RenderDevice::Cpu, false),
            (RenderDevice::Cpu, true),
            (RenderDevice::Gpu, false),
            (RenderDevice::Gpu, true),
        ] {
            let mut command = command(&task, &[1], Overrides::default());
            command.device = device;
            command.has_gpu = has_gpu;
            let script = script_of(&command);
            let gpu = device == RenderDevice::Gpu && has_gpu;
            assert_eq!(
                command.device_to_try(),
                if gpu {
                    RenderDevice::Gpu
                } else {
                    RenderDevice::Cpu
                }
            );
            // Only a script that tried a GPU can say it got one.
            for said in [RenderBackend::Optix, RenderBackend::Cuda] {
                let taken = if gpu { said } else { RenderBackend::Cpu };
                assert_eq!(command.credible_backend(said), taken);
            }
            assert_eq!(
                command.credible_backend(RenderBackend::Cpu),
                RenderBackend::Cpu
            );
            let lines: Vec<&str> = script.lines().collect();
            let has = |line: &str| lines.contains(&line);
            // Both report the device, then the size, and keep the other settings.
            assert!(
                has("print('FARM-DEVICE:', farm_device, flush=True)"),
                "{script}"
            );
            assert!(
                lines
                    .iter()
                    .position(|l| l.starts_with("print('FARM-DEVICE:'"))
                    < lines
                        .iter()
                        .position(|l| l.starts_with("print('RENDERFARM_SIZE'"))
            );
            assert!(has("scene.cycles.use_denoising = False"), "{script}");
            assert!(has("            node.mute = True"), "{script}");
            assert_eq!(
                has("scene.cycles.device = 'CPU'"),
                !gpu,
                "{device:?} {has_gpu}: {script}"
            );
            assert_eq!(
                script.contains("compute_device_type"),
                gpu,
                "{device:?} {has_gpu}: {script}"
            );
            assert_eq!(
                script.contains("'GPU'"),
                gpu,
                "{device:?} {has_gpu}: {script}"
            );
            if gpu {
                for line in [
                    "prefs = bpy.context.preferences.addons['cycles'].preferences",
                    "for kind in ('OPTIX', 'CUDA'):",
                    "        prefs.compute_device_type = kind",
                    "        getattr(prefs, 'refresh_devices', prefs.get_devices)()",
                    "        devices = prefs.get_devices_for_type(kind)",
                    "    except Exception as error:",
                    "        d.use = d.type != 'CPU'",
                    "    if any(d.use for d in devices):",
                    "        farm_device = kind",
                    "scene.cycles.device = 'CPU' if farm_device == 'CPU' else 'GPU'",
                ] {
                    assert!(has(line), "{line} missing from\n{script}");
                }
            }
        }
    }

    #[test]
    fn threads_come_before_the_frames() {
        let task = tempfile::tempdir().unwrap();
        let mut limited = command(&task, &[1, 2], Overrides::default());
        limited.threads = Some(1);
        let args = strings(&limited);
        let t = args.iter().position(|a| a == "-t").expect("-t present");
        assert_eq!(args[t + 1], "1");
        assert!(t < args.iter().position(|a| a == "-a").unwrap());
        assert!(!strings(&command(&task, &[1], Overrides::default())).contains(&"-t".to_owned()));
    }
}
