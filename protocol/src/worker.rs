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
    /// Scene formats this installation opens, as file extensions: Octane
    /// Standalone opens `orbx`, OctaneRender for Blender `blend`. Empty
    /// means the renderer's own format ([`Renderer::native_format`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
}

impl RendererInfo {
    /// Whether this installation opens scenes with extension `ext`.
    pub fn opens(&self, ext: &str) -> bool {
        if self.formats.is_empty() {
            return self.renderer.native_format() == ext;
        }
        self.formats.iter().any(|format| format == ext)
    }

    /// Whether this installation can render a `renderer` scene with
    /// extension `ext` at a version in `versions` (any version when `None`).
    pub fn can_render(
        &self,
        renderer: Renderer,
        ext: &str,
        versions: Option<&crate::VersionRange>,
    ) -> bool {
        self.renderer == renderer
            && self.opens(ext)
            && versions.is_none_or(|range| range.admits(&self.version))
    }
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
    /// The device's UUID as `nvidia-smi` prints it (`GPU-5c6f3a2e-…`);
    /// absent from workers that do not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Compute capability, major and minor (`9.0`); absent from workers that
    /// do not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_capability: Option<String>,
    /// The driver's CUDA version, major and minor (`12.4`); absent from
    /// workers that do not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
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

impl WorkerInfo {
    /// The device family renders are compared within: `cpu`, or
    /// `gpu:<vendor>/<backend>` for the first GPU. Honest workers of one
    /// family produce bit-identical frames, so parity replicas go to a worker
    /// of the same family.
    pub fn device_family(&self) -> String {
        match self.gpus.first() {
            None => "cpu".to_owned(),
            Some(gpu) => format!(
                "gpu:{}/{}",
                gpu.vendor.to_ascii_lowercase(),
                gpu.backend.to_ascii_lowercase()
            ),
        }
    }

    /// The billing class: `cpu`, or the first GPU's model reduced to
    /// lowercase letters and digits without the vendor and marketing words
    /// (`NVIDIA GeForce RTX 4090` is `rtx4090`, `NVIDIA H100 80GB HBM3` is
    /// `h100`). Rates per class are set in the coordinator's config.
    pub fn device_class(&self) -> String {
        let Some(gpu) = self.gpus.first() else {
            return "cpu".to_owned();
        };
        const NOISE: [&str; 8] = [
            "nvidia", "amd", "intel", "apple", "geforce", "radeon", "tesla", "quadro",
        ];
        let words: Vec<String> = gpu
            .name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(str::to_ascii_lowercase)
            .filter(|w| !w.is_empty() && !NOISE.contains(&w.as_str()))
            .collect();
        // Memory sizes and memory types (`80gb`, `hbm3`, `pcie`, `sxm5`) do
        // not change the price class; the model is the first word or two.
        let model: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .take_while(|w| {
                !(w.ends_with("gb") || w.starts_with("hbm") || *w == "pcie" || w.starts_with("sxm"))
            })
            .take(2)
            .collect();
        let class = model.concat();
        if class.is_empty() {
            format!("gpu-{}", gpu.vendor.to_ascii_lowercase())
        } else {
            class
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_gpu(name: &str) -> WorkerInfo {
        WorkerInfo {
            id: WorkerId::new(),
            name: "w".into(),
            owner: "o".into(),
            region: "r".into(),
            node_class: "n".into(),
            renderers: vec![],
            cpu: CpuInfo::default(),
            gpus: vec![GpuInfo {
                name: name.into(),
                vendor: "nvidia".into(),
                backend: "optix".into(),
                memory_mib: 1,
                uuid: None,
                compute_capability: None,
                driver_version: None,
            }],
            hostname: "h".into(),
        }
    }

    #[test]
    fn device_classes_name_the_gpu_model() {
        assert_eq!(
            with_gpu("NVIDIA GeForce RTX 4090").device_class(),
            "rtx4090"
        );
        assert_eq!(with_gpu("NVIDIA H100 80GB HBM3").device_class(), "h100");
        assert_eq!(with_gpu("NVIDIA A100-SXM4-40GB").device_class(), "a100");
        assert_eq!(with_gpu("NVIDIA H200").device_class(), "h200");
        assert_eq!(with_gpu("NVIDIA").device_class(), "gpu-nvidia");
        assert_eq!(with_gpu("NVIDIA H100").device_family(), "gpu:nvidia/optix");
        let mut cpu = with_gpu("x");
        cpu.gpus.clear();
        assert_eq!(cpu.device_class(), "cpu");
        assert_eq!(cpu.device_family(), "cpu");
    }

    #[test]
    fn gpu_details_are_optional_on_the_wire() {
        let old = r#"{"name":"NVIDIA H100","vendor":"nvidia","backend":"cuda","memory_mib":81559}"#;
        let gpu: GpuInfo = serde_json::from_str(old).unwrap();
        assert_eq!(gpu.memory_mib, 81559);
        assert_eq!(
            (gpu.uuid.as_deref(), gpu.compute_capability.as_deref()),
            (None, None)
        );
        assert_eq!(gpu.driver_version, None);
        assert_eq!(serde_json::to_string(&gpu).unwrap(), old);

        let detailed = GpuInfo {
            uuid: Some("GPU-5c6f3a2e-0000-1111-2222-333344445555".into()),
            compute_capability: Some("9.0".into()),
            driver_version: Some("12.4".into()),
            ..gpu
        };
        let text = serde_json::to_string(&detailed).unwrap();
        assert!(text.contains(r#""compute_capability":"9.0""#), "{text}");
        assert_eq!(serde_json::from_str::<GpuInfo>(&text).unwrap(), detailed);
    }
}
