//! Reading real Blender renders and hashing their pixels.

mod support;

use frame_diff::read_image;

#[test]
fn same_frame_rendered_twice_hashes_the_same() {
    let Some(dir) = support::scene() else { return };
    let a = read_image(&dir.join("f1_s16_seed0_a.exr")).unwrap();
    let b = read_image(&dir.join("f1_s16_seed0_b.exr")).unwrap();
    assert_eq!((a.width, a.height), (256, 144));
    assert_eq!(a.channel_names(), ["A", "B", "G", "R"]);
    assert_eq!(a.pixel_hash(), b.pixel_hash());
    assert_eq!(a.non_finite_count(), 0);
    let other_seed = read_image(&dir.join("f1_s16_seed1.exr")).unwrap();
    assert_ne!(a.pixel_hash(), other_seed.pixel_hash());
}

#[test]
fn multilayer_channels_keep_their_full_names() {
    let Some(dir) = support::scene() else { return };
    let a = read_image(&dir.join("ml_f1_s16_seed0_a.exr")).unwrap();
    let b = read_image(&dir.join("ml_f1_s16_seed0_b.exr")).unwrap();
    assert_eq!(
        a.channel_names(),
        [
            "ViewLayer.Combined.A",
            "ViewLayer.Combined.B",
            "ViewLayer.Combined.G",
            "ViewLayer.Combined.R",
            "ViewLayer.DiffCol.B",
            "ViewLayer.DiffCol.G",
            "ViewLayer.DiffCol.R",
        ]
    );
    assert_eq!(a.pixel_hash(), b.pixel_hash());
    // The Combined pass of the multilayer file holds the same pixels as the
    // plain RGBA render of the same frame, samples and seed.
    let plain = read_image(&dir.join("f1_s16_seed0_a.exr")).unwrap();
    let combined = a.channel("ViewLayer.Combined.R").unwrap();
    assert_eq!(combined.samples, plain.channel("R").unwrap().samples);
}
