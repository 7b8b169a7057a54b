//! The pixel hash follows its documented canonical layout.

use frame_diff::{Channel, FrameImage};

fn image(channels: &[(&str, Vec<f32>)]) -> FrameImage {
    FrameImage {
        width: 2,
        height: 1,
        channels: channels
            .iter()
            .map(|(name, samples)| Channel {
                name: (*name).to_string(),
                samples: samples.clone(),
            })
            .collect(),
    }
}

#[test]
fn hash_matches_the_documented_layout() {
    let img = image(&[("G", vec![0.5, -0.0]), ("R", vec![1.0, f32::NAN])]);
    let mut expected = blake3::Hasher::new();
    expected.update(b"frame-diff pixel hash v1\0");
    expected.update(&2u32.to_le_bytes());
    expected.update(&1u32.to_le_bytes());
    expected.update(&2u32.to_le_bytes());
    for c in &img.channels {
        let bytes: Vec<u8> = c.samples.iter().flat_map(|v| v.to_le_bytes()).collect();
        expected.update(&(c.name.len() as u32).to_le_bytes());
        expected.update(c.name.as_bytes());
        expected.update(blake3::hash(&bytes).as_bytes());
    }
    assert_eq!(img.pixel_hash(), expected.finalize());
    assert_eq!(img.non_finite_count(), 1);
}

#[test]
fn any_change_changes_the_hash() {
    let base = image(&[("G", vec![0.5, 0.25]), ("R", vec![1.0, 2.0])]);
    let value = image(&[("G", vec![0.5, 0.25]), ("R", vec![1.0, 2.000_001])]);
    let name = image(&[("B", vec![0.5, 0.25]), ("R", vec![1.0, 2.0])]);
    let sign = image(&[
        ("G", vec![0.5, 0.25]),
        ("R", vec![1.0, 2.0]),
        ("Z", vec![0.0, 0.0]),
    ]);
    let mut transposed = base.clone();
    transposed.width = 1;
    transposed.height = 2;
    let hashes = [&base, &value, &name, &sign, &transposed].map(|i| i.pixel_hash());
    for i in 0..hashes.len() {
        for j in i + 1..hashes.len() {
            assert_ne!(hashes[i], hashes[j], "images {i} and {j}");
        }
    }
}
