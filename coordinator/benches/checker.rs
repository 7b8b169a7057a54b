//! The parity checker's throughput and memory, re-hashing included: pairs
//! of generated 1920x1080 RGBA half EXRs (as Blender writes them, ZIP) in an
//! in-memory object store, judged by `checker::judge` exactly as the farm
//! does (fetch, header check, decode, pixel hash, compare). Then 8 pairs of
//! 3840x2160 judged at once, with the peak resident memory they took.
//! Prints figures; asserts nothing about time.
//!
//! `cargo bench -p coordinator --bench checker`; `BENCH_PAIRS` (default 20)
//! sets the number of 1080p pairs per kind.

use std::sync::Arc;
use std::time::Instant;

use coordinator::checker::judge;
use coordinator::db::{ComparisonPlan, PlannedCopy};
use exr::prelude::{
    AnyChannel, AnyChannels, Encoding, FlatSamples, Image, Layer, LayerAttributes, SmallVec,
    WritableImage,
};
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// xorshift64*: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// A render-like half-float RGBA EXR of `width` x `height`, noise from
/// `seed`, ZIP-compressed in memory.
fn exr(width: usize, height: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut planes = vec![vec![exr::prelude::f16::ZERO; width * height]; 4];
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
            let base = [0.2 + 0.6 * u, 0.15 + 0.5 * v, 0.1 + 0.3 * u * v];
            let i = y * width + x;
            for c in 0..3 {
                planes[c][i] = exr::prelude::f16::from_f32(base[c] * (0.85 + 0.3 * rng.next()));
            }
            planes[3][i] = exr::prelude::f16::ONE;
        }
    }
    let channels: SmallVec<[AnyChannel<FlatSamples>; 4]> = ["R", "G", "B", "A"]
        .iter()
        .zip(planes)
        .map(|(n, p)| AnyChannel::new(*n, FlatSamples::F16(p)))
        .collect();
    let layer = Layer::new(
        (width, height),
        LayerAttributes::default(),
        Encoding::SMALL_LOSSLESS,
        AnyChannels::sort(channels),
    );
    let mut bytes = std::io::Cursor::new(Vec::new());
    Image::from_layer(layer)
        .write()
        .to_buffered(&mut bytes)
        .expect("EXR written");
    bytes.into_inner()
}

/// Store `bytes` at `key` and describe the copy as the farm would.
async fn put(
    store: &InMemory,
    key: &str,
    bytes: &[u8],
    replica: u32,
    size: (u32, u32),
) -> PlannedCopy {
    store
        .put(&key.into(), PutPayload::from(bytes.to_vec()))
        .await
        .expect("stored");
    let image = frame_diff::read_image_bytes(bytes, std::path::Path::new(key)).expect("decodes");
    PlannedCopy {
        replica,
        object_key: key.to_owned(),
        pixel_hash: image.pixel_hash().to_hex().to_string(),
        reported_size: size,
    }
}

/// A plan comparing two stored copies.
async fn plan(
    store: &InMemory,
    name: &str,
    a: &[u8],
    b: &[u8],
    size: (u32, u32),
) -> ComparisonPlan {
    ComparisonPlan {
        copies: vec![
            put(store, &format!("{name}/a.exr"), a, 0, size).await,
            put(store, &format!("{name}/b.exr"), b, 1, size).await,
        ],
        missing: vec![(0, 1)],
        expected_size: size,
    }
}

/// A memory figure of this process from `/proc/self/status` (`VmHWM`:
/// peak resident, `VmRSS`: resident now), in MiB; 0 off Linux.
fn memory_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let pairs: usize = std::env::var("BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let hd = (1920, 1080);
    let frame = exr(hd.0 as usize, hd.1 as usize, 1);
    let other = exr(hd.0 as usize, hd.1 as usize, 2);
    let memory = InMemory::new();
    let identical = plan(&memory, "identical", &frame, &frame, hd).await;
    let different = plan(&memory, "different", &frame, &other, hd).await;
    let store: Arc<dyn ObjectStore> = Arc::new(memory);
    println!(
        "checker, 1920x1080 RGBA half ZIP ({} KiB per copy), {pairs} pairs each, {} threads",
        frame.len() / 1024,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for (label, plan) in [
        ("identical pairs", &identical),
        ("different pairs", &different),
    ] {
        judge(&store, plan).await.expect("judged");
        let started = Instant::now();
        for _ in 0..pairs {
            let judged = judge(&store, plan).await.expect("judged");
            assert!(judged.checks.iter().all(|c| c.lie.is_none()));
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "  {label}: {:.2} pairs/s ({:.1} ms per pair: fetch, header, decode and re-hash both, compare)",
            pairs as f64 / seconds,
            seconds * 1000.0 / pairs as f64
        );
    }

    let uhd = (3840, 2160);
    let memory = InMemory::new();
    let a = exr(uhd.0 as usize, uhd.1 as usize, 3);
    let b = exr(uhd.0 as usize, uhd.1 as usize, 4);
    let mut plans = Vec::new();
    for n in 0..8 {
        plans.push(plan(&memory, &format!("uhd-{n}"), &a, &b, uhd).await);
    }
    let store: Arc<dyn ObjectStore> = Arc::new(memory);
    drop((a, b));
    let before = memory_mib("VmRSS");
    let started = Instant::now();
    let checks: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { judge(&store, &plan).await.expect("judged") })
        })
        .collect();
    for check in checks {
        check.await.expect("check ran");
    }
    println!(
        "  8 concurrent 3840x2160 checks: {:.2} s, resident memory {:.0} MiB before, peak {:.0} MiB \
         (the farm runs verification.max_concurrent_checks of them at once; default 2)",
        started.elapsed().as_secs_f64(),
        before,
        memory_mib("VmHWM")
    );
}
