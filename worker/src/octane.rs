//! The Octane Standalone adapter: `octane --no-gui --script batch.lua -a
//! key=value …`, running the farm's Lua batch script
//! (`plugins/octane/batch.lua`, built into the worker and written to its
//! work folder at start), which loads the `.orbx` package, picks the render
//! target, sets each frame's time, renders with the job's samples and saves
//! `frame_NNNNNN.exr`, printing `FARM-` lines the worker follows.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use protocol::{Overrides, SceneOptions};

use crate::blender::RenderEvent;
use crate::process::Launch;
use crate::render::OutputParser;

/// The batch script, as shipped in `plugins/octane/batch.lua`.
pub const BATCH_SCRIPT: &str = include_str!("../../plugins/octane/batch.lua");

/// File name of the batch script in the worker's work folder.
pub const BATCH_SCRIPT_FILE: &str = "octane-batch.lua";

/// Write the batch script into `work_dir` (it is the worker's own copy,
/// written fresh at every start) and return its path.
pub fn install_batch_script(work_dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(work_dir)?;
    let path = work_dir.join(BATCH_SCRIPT_FILE);
    std::fs::write(&path, BATCH_SCRIPT)?;
    Ok(path)
}

/// Everything one Octane task needs.
#[derive(Debug, Clone)]
pub struct OctaneCommand {
    /// The Octane Standalone executable.
    pub program: PathBuf,
    /// The batch script.
    pub script: PathBuf,
    /// The `.orbx` package, inside the task folder.
    pub scene: PathBuf,
    /// The output folder, inside the task folder.
    pub output_dir: PathBuf,
    /// Frames, in render order.
    pub frames: Vec<i32>,
    /// Samples and resolution.
    pub overrides: Overrides,
    /// The render target.
    pub options: SceneOptions,
}

impl OctaneCommand {
    /// The one run.
    pub fn launch(&self) -> Launch {
        let mut args: Vec<OsString> = vec![
            "--no-gui".into(),
            "--script".into(),
            self.script.clone().into(),
        ];
        let mut pass = |key: &str, value: OsString| {
            let mut arg = OsString::from(format!("{key}="));
            arg.push(value);
            args.extend(["-a".into(), arg]);
        };
        pass("scene", self.scene.clone().into());
        pass("output", self.output_dir.clone().into());
        let frames: Vec<String> = self.frames.iter().map(i32::to_string).collect();
        pass("frames", frames.join(",").into());
        if let Some(target) = &self.options.render_target {
            pass("target", target.into());
        }
        if let Some(samples) = self.overrides.samples {
            pass("samples", samples.to_string().into());
        }
        if let Some([width, height]) = self.overrides.resolution {
            pass("width", width.to_string().into());
            pass("height", height.to_string().into());
        }
        Launch {
            program: self.program.clone(),
            args,
            env: Vec::new(),
        }
    }
}

/// Follows the batch script's `FARM-` lines.
#[derive(Debug, Default)]
pub struct OctaneTracker {
    /// The first `FARM-ERROR` message.
    error: Option<String>,
}

impl OutputParser for OctaneTracker {
    fn line(&mut self, line: &str) -> Option<RenderEvent> {
        let (tag, rest) = line
            .trim_end()
            .split_once(' ')
            .unwrap_or((line.trim_end(), ""));
        match tag {
            "FARM-FRAME" => Some(RenderEvent::Progress {
                frame: rest.trim().parse().ok()?,
                progress: Some(0.0),
            }),
            "FARM-PROGRESS" => {
                let (frame, fraction) = rest.split_once(' ')?;
                Some(RenderEvent::Progress {
                    frame: frame.parse().ok()?,
                    progress: Some(fraction.trim().parse::<f32>().ok()?.clamp(0.0, 1.0)),
                })
            }
            "FARM-SAVED" => {
                let mut parts = rest.splitn(3, ' ');
                let frame = parts.next()?.parse().ok()?;
                let seconds: f64 = parts.next()?.parse().ok()?;
                let path = PathBuf::from(parts.next()?);
                Some(RenderEvent::FrameSaved {
                    frame,
                    path,
                    seconds: seconds.max(0.0),
                })
            }
            "FARM-ERROR" => {
                if self.error.is_none() {
                    self.error = Some(rest.chars().take(300).collect());
                }
                None
            }
            _ => None,
        }
    }

    fn finish(&mut self) -> Option<RenderEvent> {
        None
    }

    fn error(&self) -> Option<String> {
        self.error.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_passes_the_task_to_the_script() {
        let command = OctaneCommand {
            program: "/opt/octane/octane".into(),
            script: "/w/octane-batch.lua".into(),
            scene: "/t/scene.orbx".into(),
            output_dir: "/t/out".into(),
            frames: vec![3, 1, 2],
            overrides: Overrides {
                resolution: Some([320, 180]),
                samples: Some(64),
            },
            options: SceneOptions {
                take: None,
                render_target: Some("Beauty RT".into()),
            },
        };
        let args: Vec<String> = command
            .launch()
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--no-gui",
                "--script",
                "/w/octane-batch.lua",
                "-a",
                "scene=/t/scene.orbx",
                "-a",
                "output=/t/out",
                "-a",
                "frames=3,1,2",
                "-a",
                "target=Beauty RT",
                "-a",
                "samples=64",
                "-a",
                "width=320",
                "-a",
                "height=180"
            ]
        );
    }

    #[test]
    fn farm_lines_become_events() {
        let mut tracker = OctaneTracker::default();
        assert_eq!(tracker.line("FARM-TARGET Beauty RT"), None);
        assert_eq!(
            tracker.line("FARM-FRAME 3"),
            Some(RenderEvent::Progress {
                frame: 3,
                progress: Some(0.0)
            })
        );
        assert_eq!(
            tracker.line("FARM-PROGRESS 3 0.5000"),
            Some(RenderEvent::Progress {
                frame: 3,
                progress: Some(0.5)
            })
        );
        assert_eq!(
            tracker.line("FARM-SAVED 3 1.250 /t/out/frame_000003.exr"),
            Some(RenderEvent::FrameSaved {
                frame: 3,
                path: "/t/out/frame_000003.exr".into(),
                seconds: 1.25
            })
        );
        assert_eq!(tracker.line("OctaneRender: some log line"), None);
        assert_eq!(
            tracker.line("FARM-ERROR no render target named \"X\""),
            None
        );
        assert_eq!(
            tracker.error().as_deref(),
            Some("no render target named \"X\"")
        );
        assert_eq!(tracker.line("FARM-SAVED three"), None);
    }
}
