//! A scene from an untrusted client cannot make the real worker write or read
//! outside the task folder: its File Output nodes are muted, and a `Saved:`
//! line it forges (through an object's name) fails the task instead of
//! delivering the named file.

mod common;

use std::path::Path;

use common::Farm;
use protocol::WorkerEvent;

/// A Cycles scene built from Blender's factory startup by `script` (Python
/// run on the default scene before it is saved).
fn build_scene(dir: &Path, script: &str) -> Vec<u8> {
    let blend = dir.join("built.blend");
    let save = format!(
        "import bpy\nbpy.context.scene.render.engine = 'CYCLES'\n{script}\n\
         bpy.ops.wm.save_as_mainfile(filepath={:?})\n",
        blend.to_str().unwrap()
    );
    let output = std::process::Command::new("blender")
        .args(["-b", "--factory-startup", "--python-exit-code", "1"])
        .args(["--python-expr", &save])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building the scene failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(&blend).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_output_nodes_of_the_scene_write_nothing_outside_the_task() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let escape = farm.dir.path().join("escape");
    let nested = farm.dir.path().join("escape-nested");
    // One File Output node in the compositor, one inside a node group.
    let scene = build_scene(
        farm.dir.path(),
        &format!(
            "scene = bpy.context.scene\n\
             scene.use_nodes = True\n\
             tree = scene.node_tree\n\
             layers = tree.nodes['Render Layers']\n\
             direct = tree.nodes.new('CompositorNodeOutputFile')\n\
             direct.base_path = {escape:?}\n\
             tree.links.new(layers.outputs['Image'], direct.inputs[0])\n\
             group = bpy.data.node_groups.new('G', 'CompositorNodeTree')\n\
             group.inputs.new('NodeSocketColor', 'Image')\n\
             entry = group.nodes.new('NodeGroupInput')\n\
             inner = group.nodes.new('CompositorNodeOutputFile')\n\
             inner.base_path = {nested:?}\n\
             group.links.new(entry.outputs[0], inner.inputs[0])\n\
             node = tree.nodes.new('CompositorNodeGroup')\n\
             node.node_tree = group\n\
             tree.links.new(layers.outputs['Image'], node.inputs[0])\n",
        ),
    );
    let scene = farm.upload_scene(&scene).await;
    let task = farm.quick_task(&scene);
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::TaskDone { task_id, .. }) if *task_id == task.task_id),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, WorkerEvent::FrameDone(done) if done.frame == 1)),
        "{events:?}"
    );
    for folder in [&escape, &nested] {
        assert!(
            !folder.exists(),
            "a File Output node wrote {:?}",
            std::fs::read_dir(folder).map(|d| d.count())
        );
    }
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_saved_line_fails_the_task_and_delivers_nothing() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    // A valid frame of the task's size outside the task folder: without the
    // check the worker would deliver it as frame 1.
    let secret = farm.dir.path().join("secret.exr");
    exr::prelude::write_rgba_file(&secret, 32, 18, |_, _| {
        (0.5_f32, 0.25_f32, 0.125_f32, 1.0_f32)
    })
    .unwrap();
    let name = format!("x\nSaved: '{}'", secret.to_str().unwrap());
    assert!(name.len() <= 63, "{name:?} is too long for a Blender name");
    let scene = build_scene(
        farm.dir.path(),
        &format!(
            "cube = bpy.data.objects['Cube']\n\
             cube.name = {name:?}\n\
             assert cube.name == {name:?}, cube.name\n"
        ),
    );
    let scene = farm.upload_scene(&scene).await;
    let task = farm.quick_task(&scene);
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    let Some(WorkerEvent::TaskFailed(failed)) = events.last() else {
        panic!("expected TaskFailed, got {events:?}");
    };
    assert!(
        failed.error.contains("outside the output folder") && failed.error.contains("secret.exr"),
        "{failed:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, WorkerEvent::FrameDone(_))),
        "{events:?}"
    );
    farm.shutdown().await.unwrap();
}
