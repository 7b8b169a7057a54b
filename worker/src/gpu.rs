//! GPU discovery through the CUDA driver API.
//!
//! The driver library (`libcuda.so`, shipped with the NVIDIA driver) is
//! opened at run time, so the worker builds and runs on machines without
//! it: there discovery finds no GPU. Devices are numbered as CUDA numbers
//! them (fastest first unless `CUDA_DEVICE_ORDER=PCI_BUS_ID`, and after the
//! worker's own `CUDA_VISIBLE_DEVICES`); a pinned worker hands its one GPU
//! to Blender by UUID, which does not depend on that order.

use std::panic::AssertUnwindSafe;

use cudarc::driver::result::{self, DriverError};
use cudarc::driver::sys;
use protocol::GpuInfo;

/// Bytes in a MiB.
const MIB: usize = 1024 * 1024;

/// One CUDA device of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuDevice {
    /// CUDA's ordinal for the device (what `gpu` / `--gpu` names).
    pub index: u32,
    /// Device name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// UUID as `nvidia-smi` prints it (`GPU-5c6f3a2e-…`), the form
    /// `CUDA_VISIBLE_DEVICES` takes.
    pub uuid: String,
    /// Device memory in MiB.
    pub memory_mib: u64,
    /// Compute capability (`9.0`).
    pub compute_capability: String,
    /// The driver's CUDA version (`12.4`), when the driver says.
    pub driver_version: Option<String>,
}

impl GpuDevice {
    /// What the worker announces about the device.
    pub fn info(&self) -> GpuInfo {
        GpuInfo {
            name: self.name.clone(),
            vendor: "nvidia".to_owned(),
            backend: "cuda".to_owned(),
            memory_mib: self.memory_mib,
            uuid: Some(self.uuid.clone()),
            compute_capability: Some(self.compute_capability.clone()),
            driver_version: self.driver_version.clone(),
        }
    }
}

/// Why GPU discovery failed, or the pinned GPU is not there.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// A CUDA driver call failed.
    #[error("the CUDA driver failed in {call}: {source}")]
    Driver {
        /// The driver function.
        call: &'static str,
        /// The driver's error.
        source: DriverError,
    },
    /// The driver library could not be used (cudarc panicked, for instance
    /// on a function an old driver lacks).
    #[error("the CUDA driver library cannot be used: {0}")]
    Unusable(String),
    /// The GPU the worker is pinned to does not exist.
    #[error("the worker is pinned to GPU {index} (`gpu` / `--gpu`), but {}", describe_found(.found))]
    NoSuchGpu {
        /// The CUDA index asked for.
        index: u32,
        /// The devices found, as `0: NVIDIA H100 (GPU-…)`.
        found: Vec<String>,
    },
}

/// The end of [`GpuError::NoSuchGpu`]'s message: what was found instead.
fn describe_found(found: &[String]) -> String {
    if found.is_empty() {
        "no GPU was found on this machine".to_owned()
    } else {
        format!("the GPUs found are {}", found.join(", "))
    }
}

/// The CUDA devices of this machine; empty, with one info line saying why,
/// when there is no driver library or the driver sees no device.
pub fn discover() -> Result<Vec<GpuDevice>, GpuError> {
    if !driver_library_present() {
        tracing::info!(
            "no CUDA driver library (libcuda.so) found: this worker has no GPU to announce"
        );
        return Ok(Vec::new());
    }
    // cudarc panics on a function the loaded driver lacks; that is an error
    // here, not the end of the worker.
    std::panic::catch_unwind(AssertUnwindSafe(enumerate)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "it panicked".to_owned());
        Err(GpuError::Unusable(reason))
    })
}

/// Whether the CUDA driver library can be opened.
fn driver_library_present() -> bool {
    // SAFETY: opening the driver library runs its initialisers, which is
    // what loading the NVIDIA driver library is meant to do.
    unsafe { sys::is_culib_present() }
}

/// Initialise the driver and list its devices (the library is present).
fn enumerate() -> Result<Vec<GpuDevice>, GpuError> {
    let driver = |call| move |source| GpuError::Driver { call, source };
    match result::init() {
        Ok(()) => {}
        Err(DriverError(sys::CUresult::CUDA_ERROR_NO_DEVICE)) => {
            tracing::info!("the CUDA driver sees no device: this worker has no GPU to announce");
            return Ok(Vec::new());
        }
        Err(error) => return Err(driver("cuInit")(error)),
    }
    let driver_version = {
        let mut version = 0;
        // SAFETY: `version` is a valid place for the driver to write an int.
        unsafe { sys::cuDriverGetVersion(&mut version) }
            .result()
            .ok()
            .map(|()| format_driver_version(version))
    };
    let count = result::device::get_count().map_err(driver("cuDeviceGetCount"))?;
    (0..count)
        .map(|ordinal| {
            let device = result::device::get(ordinal).map_err(driver("cuDeviceGet"))?;
            let name = result::device::get_name(device).map_err(driver("cuDeviceGetName"))?;
            let mut uuid = sys::CUuuid { bytes: [0; 16] };
            // SAFETY: `device` came from `cuDeviceGet` and `uuid` is a valid
            // place for the driver to write one. The `_v2` call gives a MIG
            // instance's own UUID.
            unsafe { sys::cuDeviceGetUuid_v2(&mut uuid, device) }
                .result()
                .map_err(driver("cuDeviceGetUuid_v2"))?;
            // SAFETY: `device` came from `cuDeviceGet`.
            let memory =
                unsafe { result::device::total_mem(device) }.map_err(driver("cuDeviceTotalMem"))?;
            let attribute = |attribute| {
                // SAFETY: `device` came from `cuDeviceGet`.
                unsafe { result::device::get_attribute(device, attribute) }
                    .map_err(driver("cuDeviceGetAttribute"))
            };
            let major =
                attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
            let minor =
                attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
            Ok(GpuDevice {
                index: ordinal as u32,
                name,
                uuid: format_uuid(uuid.bytes.map(|byte| u8::from_ne_bytes(byte.to_ne_bytes()))),
                memory_mib: (memory / MIB) as u64,
                compute_capability: format!("{major}.{minor}"),
                driver_version: driver_version.clone(),
            })
        })
        .collect()
}

/// A device UUID's 16 bytes (CUDA's `CUuuid`) as `nvidia-smi` prints them:
/// `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase hex in byte order.
pub fn format_uuid(bytes: [u8; 16]) -> String {
    let hex = |range: std::ops::Range<usize>| -> String {
        bytes[range].iter().map(|b| format!("{b:02x}")).collect()
    };
    format!(
        "GPU-{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

/// `cuDriverGetVersion`'s integer as major and minor: `12040` is `12.4`.
pub fn format_driver_version(version: i32) -> String {
    format!("{}.{}", version / 1000, version % 1000 / 10)
}

/// The devices the worker uses: all of them, or only the one at CUDA index
/// `pin` (an error naming the devices found when there is none).
pub fn select(devices: Vec<GpuDevice>, pin: Option<u32>) -> Result<Vec<GpuDevice>, GpuError> {
    let Some(index) = pin else {
        return Ok(devices);
    };
    match devices.iter().position(|device| device.index == index) {
        Some(at) => Ok(vec![devices[at].clone()]),
        None => Err(GpuError::NoSuchGpu {
            index,
            found: devices
                .iter()
                .map(|d| format!("{}: {} ({})", d.index, d.name, d.uuid))
                .collect(),
        }),
    }
}

/// The GPUs this worker renders on, found on a blocking thread: every
/// device, or with `pin` only that one (then an error when it is not there,
/// or when discovery failed). Without `pin`, a failed discovery is logged
/// and the worker announces no GPU.
pub async fn probe(pin: Option<u32>) -> Result<Vec<GpuInfo>, GpuError> {
    let found = tokio::task::spawn_blocking(discover)
        .await
        .unwrap_or_else(|error| Err(GpuError::Unusable(error.to_string())));
    let devices = match found {
        Ok(devices) => devices,
        Err(error) if pin.is_none() => {
            tracing::warn!(%error, "GPU discovery failed: this worker announces no GPU");
            Vec::new()
        }
        Err(error) => return Err(error),
    };
    Ok(select(devices, pin)?.iter().map(GpuDevice::info).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device as discovery would report it.
    fn device(index: u32, name: &str) -> GpuDevice {
        GpuDevice {
            index,
            name: name.into(),
            uuid: format_uuid([index as u8; 16]),
            memory_mib: 81_559,
            compute_capability: "9.0".into(),
            driver_version: Some("12.4".into()),
        }
    }

    #[test]
    fn discovery_without_a_driver_finds_nothing() {
        let devices = discover().expect("discovery does not fail without a driver");
        if !driver_library_present() {
            assert_eq!(devices, Vec::new());
        }
    }

    #[tokio::test]
    async fn pinning_a_gpu_that_is_not_there_is_refused() {
        let error = select(Vec::new(), Some(0)).unwrap_err();
        assert!(matches!(error, GpuError::NoSuchGpu { index: 0, .. }));
        assert_eq!(
            error.to_string(),
            "the worker is pinned to GPU 0 (`gpu` / `--gpu`), but no GPU was found on this machine"
        );
        if !driver_library_present() {
            let error = probe(Some(0)).await.unwrap_err();
            assert!(error.to_string().contains("no GPU was found"), "{error}");
            assert_eq!(probe(None).await.unwrap(), Vec::new());
        }
    }

    #[test]
    fn a_pin_keeps_only_its_gpu_and_a_wrong_one_names_those_found() {
        let devices = vec![device(0, "NVIDIA H100"), device(1, "NVIDIA H200")];
        assert_eq!(select(devices.clone(), None).unwrap(), devices);
        assert_eq!(
            select(devices.clone(), Some(1)).unwrap(),
            vec![devices[1].clone()]
        );
        let error = select(devices, Some(2)).unwrap_err().to_string();
        assert!(
            error.ends_with(
                "the GPUs found are 0: NVIDIA H100 (GPU-00000000-0000-0000-0000-000000000000), \
                 1: NVIDIA H200 (GPU-01010101-0101-0101-0101-010101010101)"
            ),
            "{error}"
        );
        assert!(error.contains("GPU 2"), "{error}");
    }

    #[test]
    fn uuids_read_as_nvidia_smi_prints_them() {
        let bytes = [
            0x5c, 0x6f, 0x3a, 0x2e, 0x91, 0x0b, 0x4d, 0x1e, 0xa2, 0x7c, 0x00, 0x12, 0xab, 0xcd,
            0xef, 0xff,
        ];
        assert_eq!(
            format_uuid(bytes),
            "GPU-5c6f3a2e-910b-4d1e-a27c-0012abcdefff"
        );
    }

    #[test]
    fn driver_versions_read_as_major_and_minor() {
        assert_eq!(format_driver_version(12040), "12.4");
        assert_eq!(format_driver_version(12080), "12.8");
        assert_eq!(format_driver_version(11020), "11.2");
        assert_eq!(format_driver_version(13000), "13.0");
    }

    #[test]
    fn announced_details_come_from_the_device() {
        let info = device(0, "NVIDIA H100").info();
        assert_eq!(info.vendor, "nvidia");
        assert_eq!(info.backend, "cuda");
        assert_eq!(info.compute_capability.as_deref(), Some("9.0"));
        assert_eq!(info.driver_version.as_deref(), Some("12.4"));
        assert_eq!(
            info.uuid.as_deref(),
            Some("GPU-00000000-0000-0000-0000-000000000000")
        );
    }
}
