//! Fuzzing the decoder with proptest: random bytes, random corruptions and
//! truncations of a valid EXR never panic; they decode or give an error.

use std::path::Path;

use exr::prelude::{
    AnyChannel, AnyChannels, Blocks, Compression, Encoding, FlatSamples, Image, Layer,
    LayerAttributes, LineOrder, SmallVec, Vec2, WritableImage,
};
use frame_diff::read_image_bytes;
use proptest::prelude::*;

/// A small valid EXR (RGBA, half and float channels) in memory.
fn valid_exr(compression: Encoding) -> Vec<u8> {
    let (w, h) = (37usize, 23usize);
    let ramp = |k: f32| {
        (0..w * h)
            .map(|i| (i as f32 * k).sin())
            .collect::<Vec<f32>>()
    };
    let half =
        |v: Vec<f32>| FlatSamples::F16(v.into_iter().map(exr::prelude::f16::from_f32).collect());
    let channels: SmallVec<[AnyChannel<FlatSamples>; 4]> = SmallVec::from_vec(vec![
        AnyChannel::new("R", FlatSamples::F32(ramp(0.1))),
        AnyChannel::new("G", half(ramp(0.2))),
        AnyChannel::new("B", FlatSamples::F32(ramp(0.3))),
        AnyChannel::new("A", half(ramp(0.0))),
    ]);
    let layer = Layer::new(
        (w, h),
        LayerAttributes::default(),
        compression,
        AnyChannels::sort(channels),
    );
    let mut bytes = std::io::Cursor::new(Vec::new());
    Image::from_layer(layer)
        .write()
        .to_buffered(&mut bytes)
        .expect("write EXR");
    bytes.into_inner()
}

/// Scanline and tiled files, uncompressed, RLE, ZIP and PIZ.
fn encodings() -> Vec<Encoding> {
    let tiled = |compression| Encoding {
        compression,
        blocks: Blocks::Tiles(Vec2(16, 16)),
        line_order: LineOrder::Increasing,
    };
    vec![
        Encoding::UNCOMPRESSED,
        Encoding::FAST_LOSSLESS,
        Encoding::SMALL_LOSSLESS,
        Encoding::SMALL_FAST_LOSSLESS,
        tiled(Compression::PIZ),
        tiled(Compression::ZIP1),
    ]
}

#[test]
fn valid_files_decode_in_every_encoding() {
    for encoding in encodings() {
        let image = read_image_bytes(&valid_exr(encoding), Path::new("mem.exr")).expect("decodes");
        assert_eq!((image.width, image.height), (37, 23));
        assert_eq!(image.channel_names(), ["A", "B", "G", "R"]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read_image_bytes(&bytes, Path::new("random.bin"));
    }

    #[test]
    fn random_bytes_behind_the_exr_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut bytes = vec![0x76, 0x2f, 0x31, 0x01];
        bytes.extend(tail);
        let _ = read_image_bytes(&bytes, Path::new("random.exr"));
    }

    #[test]
    fn corrupted_exr_never_panics(
        which in 0usize..6,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let mut bytes = valid_exr(encodings()[which]);
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= value;
        }
        let _ = read_image_bytes(&bytes, Path::new("corrupt.exr"));
    }

    #[test]
    fn truncated_exr_is_an_error_not_a_panic(which in 0usize..6, cut in any::<prop::sample::Index>()) {
        let bytes = valid_exr(encodings()[which]);
        let end = cut.index(bytes.len());
        prop_assert!(read_image_bytes(&bytes[..end], Path::new("truncated.exr")).is_err());
    }
}
