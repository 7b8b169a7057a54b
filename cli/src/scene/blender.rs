//! Reading a .blend's settings and dependencies by running Blender in
//! background mode with a script embedded in this binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;

use crate::error::{EXIT_OTHER, EXIT_REFUSED};

/// The script Blender runs (it writes `scene.json` to the folder named
/// after `--`).
const COLLECT_SCRIPT: &str = include_str!("collect.py");
/// The Blender add-on's dependency rules, run as they are, so the add-on
/// and the command line send the same files.
const ADDON_DEPS: &str = include_str!("../../../plugins/blender/farm_submit/deps.py");
/// What the add-on's `deps.py` imports from its `bundle.py`.
const BUNDLE_ERRORS: &str = include_str!("bundle_errors.py");

/// Lines of Blender's output shown when it fails.
const OUTPUT_TAIL_LINES: usize = 12;

/// What the script found in the scene.
#[derive(Debug, Clone, Deserialize)]
pub struct SceneInfo {
    /// The .blend's absolute path, as Blender resolved it.
    pub blend: PathBuf,
    /// First frame.
    pub frame_start: i32,
    /// Last frame.
    pub frame_end: i32,
    /// Render every n-th frame.
    pub frame_step: i32,
    /// Output size in pixels, after the resolution percentage.
    pub resolution: [u32; 2],
    /// Every file the scene uses, absolute; a folder stands for every
    /// file under it.
    pub dependencies: Vec<PathBuf>,
    /// The copy to send instead, with its paths relative to the .blend's
    /// folder, when the .blend names files by absolute paths.
    pub relative_copy: Option<PathBuf>,
}

impl SceneInfo {
    /// The scene's frame range as a frame spec: `1-250`, `1-250x2`.
    pub fn frame_spec(&self) -> String {
        let range = if self.frame_start == self.frame_end {
            self.frame_start.to_string()
        } else {
            format!("{}-{}", self.frame_start, self.frame_end)
        };
        if self.frame_step > 1 {
            format!("{range}x{}", self.frame_step)
        } else {
            range
        }
    }
}

/// Why the scene could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlenderError {
    /// The scene file is not there.
    #[error("the scene {} does not exist", path.display())]
    NoScene {
        /// The path given.
        path: PathBuf,
    },
    /// The scene is not a .blend.
    #[error("{} is not a .blend file; farm submit sends Blender scenes", path.display())]
    NotBlend {
        /// The path given.
        path: PathBuf,
    },
    /// Blender could not be started.
    #[error("cannot run Blender as {}: {source}; install it or pass --blender PATH", program.display())]
    Start {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Blender ran but failed.
    #[error("Blender could not read {} ({status}):\n{output}", scene.display())]
    Failed {
        /// The scene.
        scene: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The last lines it printed.
        output: String,
    },
    /// The add-on's rules refuse the scene.
    #[error("{0}")]
    Refused(String),
    /// The script's report is unreadable.
    #[error("Blender's report on {} is unreadable: {reason}", scene.display())]
    Report {
        /// The scene.
        scene: PathBuf,
        /// Why.
        reason: String,
    },
    /// A scratch folder could not be made.
    #[error("cannot make a scratch folder: {0}")]
    Scratch(std::io::Error),
}

impl BlenderError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            BlenderError::NoScene { .. }
            | BlenderError::NotBlend { .. }
            | BlenderError::Refused(_) => EXIT_REFUSED,
            _ => EXIT_OTHER,
        }
    }
}

/// A scene read by Blender; the scratch folder holding the relative copy
/// lives as long as this.
#[derive(Debug)]
pub struct ReadScene {
    /// What was found.
    pub info: SceneInfo,
    /// The scratch folder holding the relative copy, if any; deleted when
    /// dropped.
    _scratch: tempfile::TempDir,
}

/// The last `OUTPUT_TAIL_LINES` lines of `stdout` and `stderr`.
fn tail(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr)
    );
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..].join("\n")
}

/// Run `blender` on `scene` in background mode; `verbose` passes its
/// output through.
pub async fn read_scene(
    blender: &Path,
    scene: &Path,
    verbose: bool,
) -> Result<ReadScene, BlenderError> {
    if !scene.is_file() {
        return Err(BlenderError::NoScene {
            path: scene.to_owned(),
        });
    }
    if scene.extension().and_then(|e| e.to_str()) != Some("blend") {
        return Err(BlenderError::NotBlend {
            path: scene.to_owned(),
        });
    }
    let scratch = tempfile::Builder::new()
        .prefix("farm-submit-")
        .tempdir()
        .map_err(BlenderError::Scratch)?;
    let script = scratch.path().join("collect.py");
    let package = scratch.path().join("farm_deps");
    std::fs::create_dir(&package).map_err(BlenderError::Scratch)?;
    for (path, text) in [
        (script.clone(), COLLECT_SCRIPT),
        (package.join("__init__.py"), ""),
        (package.join("deps.py"), ADDON_DEPS),
        (package.join("bundle.py"), BUNDLE_ERRORS),
    ] {
        std::fs::write(path, text).map_err(BlenderError::Scratch)?;
    }
    let out = scratch.path().join("out");
    std::fs::create_dir(&out).map_err(BlenderError::Scratch)?;
    let mut command = tokio::process::Command::new(blender);
    // The artist's own startup file and add-ons, and the scene's scripts,
    // have no say in what the scene depends on.
    command
        .arg("-b")
        .arg(scene)
        .args(["--factory-startup", "--disable-autoexec"])
        .args(["--python-exit-code", "1", "--python"])
        .arg(&script)
        .arg("--")
        .arg(&out)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if verbose {
        eprintln!("running {command:?}");
    }
    let output = command
        .output()
        .await
        .map_err(|source| BlenderError::Start {
            program: blender.to_owned(),
            source,
        })?;
    if verbose {
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }
    let report = out.join("scene.json");
    if !output.status.success() || !report.is_file() {
        return Err(BlenderError::Failed {
            scene: scene.to_owned(),
            status: output.status,
            output: tail(&output.stdout, &output.stderr),
        });
    }
    let text = std::fs::read_to_string(&report).map_err(|e| BlenderError::Report {
        scene: scene.to_owned(),
        reason: e.to_string(),
    })?;
    let unreadable = |reason: String| BlenderError::Report {
        scene: scene.to_owned(),
        reason,
    };
    let report: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    if let Some(refused) = report.get("refused") {
        return Err(BlenderError::Refused(
            refused.as_str().unwrap_or_default().to_owned(),
        ));
    }
    let info = SceneInfo::deserialize(&report).map_err(|e| unreadable(e.to_string()))?;
    Ok(ReadScene {
        info,
        _scratch: scratch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(start: i32, end: i32, step: i32) -> SceneInfo {
        SceneInfo {
            blend: "/s/a.blend".into(),
            frame_start: start,
            frame_end: end,
            frame_step: step,
            resolution: [32, 18],
            dependencies: vec![],
            relative_copy: None,
        }
    }

    #[test]
    fn the_scene_range_becomes_a_frame_spec() {
        assert_eq!(info(1, 250, 1).frame_spec(), "1-250");
        assert_eq!(info(1, 250, 5).frame_spec(), "1-250x5");
        assert_eq!(info(7, 7, 1).frame_spec(), "7");
    }
}
