//! Blender's command line for one task: the argument vector and the Python
//! settings script that runs on the loaded scene.
//!
//! Blender processes its arguments in order, so the order is the contract:
//! `-b`, the security switches, the scene, the settings script (it must see
//! the loaded scene), then output path, format and frames (rendering starts at
//! `-a` / `-f`, so those come last).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use protocol::{ExrDepth, Overrides};

/// Highest frame number Blender accepts (`MAXFRAME`).
pub const MAX_FRAME: i32 = 1_048_574;

/// Exit code Blender returns when the settings script raises.
pub const SETTINGS_SCRIPT_EXIT_CODE: i32 = 3;

/// Prefix of the line the settings script prints with the output size.
pub const SIZE_MARKER: &str = "RENDERFARM_SIZE";

/// File name pattern of the rendered frames inside the output folder
/// (`frame_000012.exr`).
pub const FRAME_PATTERN: &str = "frame_######";

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
    /// Folder the frames are written to.
    pub output_dir: PathBuf,
    /// Frames to render.
    pub frames: FrameSelection,
    /// EXR channel depth.
    pub depth: ExrDepth,
    /// Render setting overrides.
    pub overrides: Overrides,
    /// Render threads (`-t`); None lets Blender use every core.
    pub threads: Option<u32>,
}

impl RenderCommand {
    /// The program to run.
    pub fn program(&self) -> &Path {
        &self.blender
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
            settings_script(self.depth, &self.overrides).into(),
            "-o".into(),
            self.output_dir.join(FRAME_PATTERN).into(),
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
/// on the CPU, no denoising, the requested EXR depth, the overrides; then it
/// prints the output size so the worker can check the frames.
///
/// The scene's own seed is kept (it is a fixed number stored in the file, so
/// every replica uses the same one); the animated seed makes each frame's
/// noise a function of that seed and the frame number alone.
pub fn settings_script(depth: ExrDepth, overrides: &Overrides) -> String {
    let color_depth = match depth {
        ExrDepth::Half => "16",
        ExrDepth::Float => "32",
    };
    let mut script = String::from(
        "import bpy\n\
         scene = bpy.context.scene\n\
         render = scene.render\n\
         scene.cycles.device = 'CPU'\n\
         scene.cycles.use_animated_seed = True\n\
         scene.cycles.use_denoising = False\n\
         for layer in scene.view_layers:\n\
         \x20   layer.cycles.denoising_store_passes = False\n\
         \x20   layer.cycles.use_denoising = False\n\
         render.use_crop_to_border = False\n\
         render.use_overwrite = True\n\
         render.use_placeholder = False\n\
         render.use_file_extension = True\n\
         render.image_settings.file_format = 'OPEN_EXR'\n\
         render.image_settings.exr_codec = 'ZIP'\n",
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
        "print('{SIZE_MARKER}', render.resolution_x * render.resolution_percentage // 100, \
         render.resolution_y * render.resolution_percentage // 100, flush=True)\n"
    ));
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(frames: &[i32], overrides: Overrides) -> RenderCommand {
        RenderCommand {
            blender: "blender".into(),
            scene: "/work/task/scene.blend".into(),
            output_dir: "/work/task/out".into(),
            frames: FrameSelection::from_frames(frames).unwrap(),
            depth: ExrDepth::Half,
            overrides,
            threads: None,
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
        let args = strings(&command(&[1, 2, 3], Overrides::default()));
        assert!(args.contains(&"--disable-autoexec".to_owned()));
        for enabling in ["-y", "--enable-autoexec"] {
            assert!(!args.iter().any(|a| a == enabling), "{args:?}");
        }
        assert!(position(&args, "--disable-autoexec") < position(&args, "/work/task/scene.blend"));
        assert_eq!(args[0], "-b");
    }

    #[test]
    fn settings_run_after_the_scene_loads_and_before_rendering() {
        let args = strings(&command(&[4, 9, 5], Overrides::default()));
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
        assert_eq!(
            args[position(&args, "-o") + 1],
            "/work/task/out/frame_######"
        );
        assert_eq!(args[position(&args, "-F") + 1], "OPEN_EXR");
        assert_eq!(args.last().unwrap(), "4,9,5");
    }

    #[test]
    fn stepped_runs_use_start_end_jump() {
        let args = strings(&command(&[10, 12, 14], Overrides::default()));
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
        let plain = settings_script(ExrDepth::Half, &Overrides::default());
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
    fn threads_come_before_the_frames() {
        let mut limited = command(&[1, 2], Overrides::default());
        limited.threads = Some(1);
        let args = strings(&limited);
        let t = args.iter().position(|a| a == "-t").expect("-t present");
        assert_eq!(args[t + 1], "1");
        assert!(t < args.iter().position(|a| a == "-a").unwrap());
        assert!(!strings(&command(&[1], Overrides::default())).contains(&"-t".to_owned()));
    }
}
