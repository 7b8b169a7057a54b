//! The task message: one chunk of frames for one worker to render.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, SceneHash, TaskId};

/// The render engines the farm knows. Workers consume only the queues of the
/// renderers they have installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Renderer {
    /// Blender (Cycles or Eevee), driven headless with `blender -b`.
    Blender,
    /// OTOY OctaneRender standalone.
    Octane,
    /// Maxon Cinema 4D command-line renderer.
    Cinema4d,
}

impl Renderer {
    /// Every renderer, in a stable order.
    pub const ALL: [Renderer; 3] = [Renderer::Blender, Renderer::Octane, Renderer::Cinema4d];

    /// The scene format the renderer itself opens, as a file extension.
    pub fn native_format(self) -> &'static str {
        match self {
            Renderer::Blender => "blend",
            Renderer::Octane => "orbx",
            Renderer::Cinema4d => "c4d",
        }
    }

    /// Every scene format a job of this renderer may have: Octane renders
    /// `.orbx` packages in Octane Standalone and `.blend` files in
    /// OctaneRender for Blender.
    pub fn formats(self) -> &'static [&'static str] {
        match self {
            Renderer::Blender => &["blend"],
            Renderer::Octane => &["orbx", "blend"],
            Renderer::Cinema4d => &["c4d"],
        }
    }

    /// The lowercase name used in the API, queue names and config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Renderer::Blender => "blender",
            Renderer::Octane => "octane",
            Renderer::Cinema4d => "cinema4d",
        }
    }
}

impl fmt::Display for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Renderer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Renderer::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown renderer {s:?}; expected one of blender, octane, cinema4d")
            })
    }
}

/// Bit depth of the OpenEXR frames a worker writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExrDepth {
    /// 16-bit half floats: half the size, enough for beauty passes.
    #[default]
    Half,
    /// 32-bit floats: for data passes and compositing-heavy work.
    Float,
}

/// What the worker writes for each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutputSpec {
    /// Channel depth of the OpenEXR files.
    #[serde(default)]
    pub depth: ExrDepth,
}

/// Optional changes to the scene's own render settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Overrides {
    /// Output width and height in pixels (at 100% scale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<[u32; 2]>,
    /// Path-tracing samples per pixel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u32>,
}

/// Renderer-specific choices of what in the scene to render.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SceneOptions {
    /// Cinema 4D: the take to render (`Commandline -take`); `None` renders
    /// the main take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take: Option<String>,
    /// Octane: the render target node to render; `None` when the scene has
    /// only one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_target: Option<String>,
}

impl SceneOptions {
    /// Whether nothing is chosen.
    pub fn is_empty(&self) -> bool {
        self.take.is_none() && self.render_target.is_none()
    }

    /// Why `name` cannot be a take or render target name: longer than 200
    /// bytes, empty, a control character (it would forge output lines), or
    /// a leading `-` (a renderer could read it as a switch).
    pub fn check_name(name: &str) -> Result<(), String> {
        if name.trim().is_empty() || name.len() > 200 {
            return Err("must be 1 to 200 characters".to_owned());
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".to_owned());
        }
        if name.starts_with('-') {
            return Err("must not start with `-`".to_owned());
        }
        Ok(())
    }
}

/// Where a task's scene lives in object storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneRef {
    /// blake3 of the scene file; the worker checks what it downloads against it.
    pub hash: SceneHash,
    /// File extension without the dot (`blend`, `orbx`, `c4d`).
    pub ext: String,
}

/// One unit of work on the task queue: render `frames` of a job's scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    /// The task this message dispatches.
    pub task_id: TaskId,
    /// The job the task belongs to.
    pub job_id: JobId,
    /// Dispatch attempt, starting at 1; results are deduplicated by (task, attempt).
    pub attempt: u32,
    /// Which renderer must run it (also the queue it was published on).
    pub renderer: Renderer,
    /// The scene to render: the main file of its bundle, when it has one.
    pub scene: SceneRef,
    /// The scene's bundle: every file the main file depends on, laid out at
    /// its path around the main file. `None` for a single-file scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<crate::bundle::Manifest>,
    /// Frame numbers of this chunk, in render order.
    pub frames: Vec<i32>,
    /// Replica number: 0 for the original, 1.. for parity copies.
    #[serde(default)]
    pub replica: u32,
    /// Output format.
    #[serde(default)]
    pub output: OutputSpec,
    /// Render setting overrides.
    #[serde(default)]
    pub overrides: Overrides,
    /// What in the scene to render: a Cinema 4D take, an Octane render target.
    #[serde(default, skip_serializing_if = "SceneOptions::is_empty")]
    pub scene_options: SceneOptions,
    /// Wall-clock limit for the whole chunk; the worker kills the renderer past it.
    pub timeout_secs: u64,
    /// The device the job asks for: a GPU when it names a GPU model or GPU
    /// memory, the CPU otherwise. A frame is billed at the GPU's rate only
    /// when the task asked for one and the worker rendered on one.
    #[serde(default)]
    pub device: crate::RenderDevice,
}
