//! The render device with real Blender: a task that asks for a GPU renders
//! on the CPU of a worker that has none, and its frames say so; the settings
//! script's GPU branch runs in this Blender and, without a GPU, falls back
//! to the CPU and says so.

mod common;

use std::path::Path;

use common::Farm;
use object_store::ObjectStoreExt;
use protocol::{ExrDepth, FrameDone, Overrides, RenderDevice, TaskMessage, WorkerEvent};
use worker::blender::command::{FrameSelection, RenderCommand, TaskOutput};
use worker::blender::{RenderBackend, RenderEvent};

/// Render `task` on `farm`; its one delivered frame, decoded.
async fn render_one(farm: &mut Farm, task: &TaskMessage) -> (FrameDone, frame_diff::FrameImage) {
    farm.publish(task).await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { task_id, .. }) if *task_id == task.task_id),
        "{events:?}"
    );
    let done: Vec<FrameDone> = events
        .iter()
        .filter_map(|event| match event {
            WorkerEvent::FrameDone(done) => Some(done.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(done.len(), 1, "{events:?}");
    let bytes = farm
        .store
        .get(&done[0].object_key.as_str().into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let image = frame_diff::read_image_bytes(&bytes, Path::new("f.exr")).unwrap();
    assert_eq!(image.pixel_hash().to_hex().to_string(), done[0].pixel_hash);
    (done[0].clone(), image)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gpu_task_on_a_worker_without_a_gpu_renders_on_the_cpu() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let scene = farm.sample_scene().await;
    let on_cpu = farm.quick_task(&scene);
    let mut on_gpu = farm.quick_task(&scene);
    on_gpu.device = RenderDevice::Gpu;

    let (cpu_done, cpu_image) = render_one(&mut farm, &on_cpu).await;
    let (gpu_done, gpu_image) = render_one(&mut farm, &on_gpu).await;
    assert_eq!(cpu_done.device, RenderDevice::Cpu);
    assert_eq!((gpu_done.width, gpu_done.height), (32, 18));
    assert_eq!((gpu_image.width, gpu_image.height), (32, 18));
    assert_eq!(gpu_image.non_finite_count(), 0);
    if !farm.gpus.is_empty() {
        eprintln!(
            "\n*** this machine has GPUs ({:?}): the GPU task rendered on {:?}; \
             the CPU fallback is not checked ***\n",
            farm.gpus, gpu_done.device
        );
        farm.shutdown().await.unwrap();
        return;
    }
    assert_eq!(gpu_done.device, RenderDevice::Cpu, "{gpu_done:?}");
    // The same frame of the same scene on the same CPU: the same render.
    let comparison = frame_diff::compare(&cpu_image, &gpu_image, &Default::default());
    assert!(
        matches!(
            comparison.verdict,
            frame_diff::Verdict::Identical | frame_diff::Verdict::WithinTolerance
        ),
        "{:?}: {:?}",
        comparison.verdict,
        comparison.reasons
    );
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gpu_settings_run_in_blender_and_report_the_device_chosen() {
    if !common::blender_available() {
        return;
    }
    let task = tempfile::tempdir().unwrap();
    std::fs::create_dir(task.path().join("out")).unwrap();
    let scene = task.path().join("scene.blend");
    std::fs::copy(common::sample_blend(), &scene).unwrap();
    // As if the worker had a GPU, so the script takes its GPU branch.
    let command = RenderCommand {
        blender: "blender".into(),
        scene,
        output: TaskOutput::frames_in(task.path()).unwrap(),
        frames: FrameSelection::from_frames(&[1]).unwrap(),
        depth: ExrDepth::Half,
        overrides: Overrides {
            resolution: Some([32, 18]),
            samples: Some(1),
        },
        threads: None,
        gpu: None,
        device: RenderDevice::Gpu,
        has_gpu: true,
    };
    let mut render = worker::blender::start(&command, task.path()).unwrap();
    let mut events = Vec::new();
    while let Some(event) = render.next_event().await {
        events.push(event);
    }
    let status = render.wait().await.unwrap();
    let log = render.log_tail();
    assert!(status.success(), "{status}: {log}");
    let devices: Vec<RenderBackend> = events
        .iter()
        .filter_map(|event| match event {
            RenderEvent::Device { backend } => Some(*backend),
            _ => None,
        })
        .collect();
    assert_eq!(devices.len(), 1, "one device line: {log}");
    assert!(
        events
            .iter()
            .any(|event| matches!(event, RenderEvent::FrameSaved { frame: 1, .. })),
        "{events:?}"
    );
    if worker::gpu::discover().is_ok_and(|gpus| gpus.is_empty()) {
        assert_eq!(devices[0], RenderBackend::Cpu, "{log}");
    } else {
        eprintln!(
            "\n*** this machine has a GPU: Blender chose {} ***\n",
            devices[0]
        );
    }
}
