//! What a worker tells the coordinator about itself.

use serde::{Deserialize, Serialize};

use crate::ids::WorkerId;
use crate::task::Renderer;

/// A renderer found on the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RendererInfo {
    /// Which renderer.
    pub renderer: Renderer,
    /// Its version as it reports it (`3.4.1`).
    pub version: String,
}

/// The worker's CPU.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CpuInfo {
    /// Model name from the OS.
    pub model: String,
    /// Logical cores.
    pub cores: u32,
}

/// One GPU the worker can render on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// Device name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Vendor (`nvidia`, `amd`, `intel`, `apple`).
    pub vendor: String,
    /// Compute backend (`cuda`, `optix`, `hip`, `metal`).
    pub backend: String,
    /// Device memory in MiB.
    pub memory_mib: u64,
}

/// The announcement a worker publishes when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Stable worker id.
    pub id: WorkerId,
    /// Human name, unique per owner (`render-07`).
    pub name: String,
    /// Who operates the machine (used to keep parity replicas apart).
    pub owner: String,
    /// Region the machine is in (`eu-west`), for data-residency constraints.
    pub region: String,
    /// Node class (`fast`, `cheap`), chosen by the operator.
    pub node_class: String,
    /// Renderers installed, with versions.
    pub renderers: Vec<RendererInfo>,
    /// The CPU.
    pub cpu: CpuInfo,
    /// GPUs found, empty when none.
    pub gpus: Vec<GpuInfo>,
    /// Host name of the machine.
    pub hostname: String,
}
