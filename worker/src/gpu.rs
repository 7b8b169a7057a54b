//! GPU discovery. NVIDIA GPUs are found through `nvidia-smi` (shipped with the
//! driver); a machine without it has no GPU the worker can use, and the list
//! is empty.

use std::process::Stdio;
use std::time::Duration;

use protocol::GpuInfo;
use tokio::process::Command;

/// How long `nvidia-smi` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The GPUs of this machine; empty when there is no NVIDIA driver.
pub async fn probe() -> Vec<GpuInfo> {
    let query = Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total",
            "--format=csv,noheader,nounits",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(PROBE_TIMEOUT, query).await {
        Ok(Ok(output)) if output.status.success() => {
            parse_nvidia_smi(&String::from_utf8_lossy(&output.stdout))
        }
        _ => Vec::new(),
    }
}

/// GPUs from `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`.
pub fn parse_nvidia_smi(output: &str) -> Vec<GpuInfo> {
    output
        .lines()
        .filter_map(|line| {
            let (name, memory) = line.rsplit_once(',')?;
            Some(GpuInfo {
                name: name.trim().to_owned(),
                vendor: "nvidia".to_owned(),
                backend: "cuda".to_owned(),
                memory_mib: memory.trim().parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nvidia_smi_rows() {
        let gpus =
            parse_nvidia_smi("NVIDIA H100 80GB HBM3, 81559\nNVIDIA GeForce RTX 4090, 24564\n");
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[0].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(gpus[0].memory_mib, 81559);
        assert_eq!(gpus[1].backend, "cuda");
        assert!(parse_nvidia_smi("No devices were found\n").is_empty());
    }
}
