//! Scene bundles with the real worker loop and real Blender: the files of a
//! bundle are fetched through grants for the bundle's own blobs, laid out
//! at their paths, and the scene's relative paths resolve inside the task
//! folder (the texture's colour is in the frame); a bundle path that could
//! leave the task folder fails the task before anything is written.

mod common;

use std::path::Path;

use common::Farm;
use frame_diff::colour::srgb_to_linear;
use object_store::ObjectStoreExt;
use protocol::bundle::{Manifest, ManifestFile};
use protocol::{SceneHash, SceneRef, WorkerEvent};

/// The texture's colour, as 8-bit sRGB.
const TEXTURE_SRGB: [u8; 3] = [230, 128, 26];

/// blake3 of `bytes`.
fn hash(bytes: &[u8]) -> SceneHash {
    SceneHash::from_blake3(blake3::hash(bytes).as_bytes())
}

/// A project folder under `dir`: `shots/shot.blend`, whose camera sees only
/// an emissive plane showing `textures/poster.png` (referenced as
/// `//../textures/poster.png`), a solid colour. Returns the two files' bytes.
fn build_project(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let project = dir.join("project");
    std::fs::create_dir_all(project.join("shots")).unwrap();
    std::fs::create_dir_all(project.join("textures")).unwrap();
    let [r, g, b] = TEXTURE_SRGB.map(|c| f32::from(c) / 255.0);
    let script = format!(
        r#"
import bpy
project = {project:?}
image = bpy.data.images.new("poster", 8, 8)
image.pixels = [{r}, {g}, {b}, 1.0] * 64
image.filepath_raw = project + "/textures/poster.png"
image.file_format = "PNG"
image.save()
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj, do_unlink=True)
bpy.ops.mesh.primitive_plane_add(size=40, location=(0, 0, 0))
plane = bpy.context.active_object
mat = bpy.data.materials.new("poster")
mat.use_nodes = True
nodes, links = mat.node_tree.nodes, mat.node_tree.links
nodes.clear()
tex = nodes.new("ShaderNodeTexImage")
tex.image = bpy.data.images.load(project + "/textures/poster.png")
emit = nodes.new("ShaderNodeEmission")
out = nodes.new("ShaderNodeOutputMaterial")
links.new(tex.outputs["Color"], emit.inputs["Color"])
links.new(emit.outputs["Emission"], out.inputs["Surface"])
plane.data.materials.append(mat)
bpy.ops.object.camera_add(location=(0, 0, 5))
scene = bpy.context.scene
scene.camera = bpy.context.active_object
world = bpy.data.worlds.new("black")
scene.world = world
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = 2
scene.cycles.use_adaptive_sampling = False
scene.cycles.use_denoising = False
scene.render.resolution_x = 32
scene.render.resolution_y = 18
scene.render.resolution_percentage = 100
scene.view_settings.view_transform = "Standard"
scene.frame_start = 1
scene.frame_end = 1
bpy.ops.wm.save_as_mainfile(filepath=project + "/shots/shot.blend", relative_remap=True)
bpy.ops.file.make_paths_relative()
bpy.ops.wm.save_mainfile()
"#,
        project = project.to_str().unwrap()
    );
    let output = std::process::Command::new("blender")
        .args(["-b", "--factory-startup", "--python-exit-code", "1"])
        .args(["--python-expr", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building the project failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        std::fs::read(project.join("shots/shot.blend")).unwrap(),
        std::fs::read(project.join("textures/poster.png")).unwrap(),
    )
}

/// The scene as a single-file task scene, and its bundle with `texture`
/// at `texture_path`.
async fn bundle(
    farm: &Farm,
    blend: &[u8],
    texture: &[u8],
    texture_path: &str,
) -> (SceneRef, Manifest) {
    let scene = farm.upload_scene(blend).await;
    farm.store
        .put(&storage::blob_key(&hash(texture)), texture.to_vec().into())
        .await
        .unwrap();
    let manifest = Manifest {
        main: "shots/shot.blend".into(),
        files: vec![
            ManifestFile {
                path: "shots/shot.blend".into(),
                hash: scene.hash.clone(),
                bytes: blend.len() as u64,
            },
            ManifestFile {
                path: texture_path.into(),
                hash: hash(texture),
                bytes: texture.len() as u64,
            },
        ],
    };
    (scene, manifest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_is_laid_out_so_the_scene_finds_its_texture() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let (blend, texture) = build_project(farm.dir.path());
    let (scene, manifest) = bundle(&farm, &blend, &texture, "textures/poster.png").await;
    let mut task = farm.task(&scene, &[1]);
    task.bundle = Some(manifest);
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    let done = events
        .iter()
        .find_map(|event| match event {
            WorkerEvent::FrameDone(done) => Some(done.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no frame delivered: {events:?}"));
    let bytes = farm
        .store
        .get(&done.object_key.as_str().into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let image = frame_diff::read_image_bytes(&bytes, Path::new("f.exr")).unwrap();
    assert_eq!((image.width, image.height), (32, 18));
    let centre = image
        .rgb_at(image.width / 2, image.height / 2)
        .expect("RGB channels");
    // Blender decodes the sRGB texture to linear values.
    let texture = TEXTURE_SRGB.map(|c| srgb_to_linear(f32::from(c) / 255.0));
    assert!(
        centre
            .iter()
            .zip(texture)
            .all(|(v, t)| (v - t).abs() < 0.02),
        "the centre is {centre:?}, the texture's colour {texture:?} (a missing texture renders magenta)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_path_that_leaves_the_task_folder_fails_the_task() {
    let Some(mut farm) = Farm::start(30).await else {
        return;
    };
    let (blend, texture) = build_project(farm.dir.path());
    let (scene, manifest) = bundle(&farm, &blend, &texture, "../../escaped.png").await;
    let mut task = farm.task(&scene, &[1]);
    task.bundle = Some(manifest);
    farm.publish(&task).await;
    let events = farm.events_until_settled().await;
    let failed = events
        .iter()
        .find_map(|event| match event {
            WorkerEvent::TaskFailed(failed) => Some(failed.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the task did not fail: {events:?}"));
    assert!(
        failed.error.contains("../../escaped.png") && failed.error.contains("climbs out"),
        "{failed:?}"
    );
    assert!(
        !events
            .iter()
            .any(|event| matches!(event, WorkerEvent::FrameDone(_))),
        "{events:?}"
    );
    let escaped = walk(farm.dir.path())
        .into_iter()
        .filter(|path| path.ends_with("escaped.png"))
        .collect::<Vec<_>>();
    assert!(
        escaped.is_empty(),
        "written outside the bundle: {escaped:?}"
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
