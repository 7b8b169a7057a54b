//! The fast path gives exactly what the `exr` crate's image reader gives,
//! and declines what it does not handle.

use std::io::Cursor;
use std::path::Path;

use exr::prelude::{
    AnyChannel, AnyChannels, Blocks, Compression, Encoding, FlatSamples, Image, ImageAttributes,
    IntegerBounds, Layer, LayerAttributes, Levels, LineOrder, SmallVec, Vec2, WritableImage, f16,
};

use exr::math::RoundingMode;

use crate::image::FrameImage;
use crate::read::{read_exr, read_image_bytes};

/// Width and height of the test files: not a multiple of any block size.
const SIZE: (usize, usize) = (37, 23);

/// A sample type of the test files.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// 16-bit float.
    Half,
    /// 32-bit float.
    Float,
    /// 32-bit unsigned integer.
    Uint,
}

/// A deterministic plane with negative, fractional and large values.
fn plane(seed: f32, kind: Kind) -> FlatSamples {
    let values =
        (0..SIZE.0 * SIZE.1).map(|i| ((i as f32 + seed) * 0.37).sin() * (seed + 1.0) * 3.0);
    match kind {
        Kind::Half => FlatSamples::F16(values.map(f16::from_f32).collect()),
        Kind::Float => FlatSamples::F32(values.collect()),
        Kind::Uint => FlatSamples::U32(values.map(|v| (v.abs() * 1000.0) as u32).collect()),
    }
}

/// A layer with channels `names` of sample type `kind`.
fn layer(
    name: Option<&str>,
    names: &[&str],
    kind: Kind,
    encoding: Encoding,
) -> Layer<AnyChannels<FlatSamples>> {
    let channels: SmallVec<[AnyChannel<FlatSamples>; 4]> = names
        .iter()
        .enumerate()
        .map(|(i, n)| AnyChannel::new(*n, plane(i as f32, kind)))
        .collect();
    let attributes = match name {
        Some(n) => LayerAttributes::named(n),
        None => LayerAttributes::default(),
    };
    Layer::new(SIZE, attributes, encoding, AnyChannels::sort(channels))
}

/// Writes `layers` as one EXR file in memory.
fn file(layers: Vec<Layer<AnyChannels<FlatSamples>>>) -> Vec<u8> {
    let bounds = IntegerBounds::new(Vec2(0, 0), SIZE);
    let mut bytes = Cursor::new(Vec::new());
    Image::from_layers(ImageAttributes::new(bounds), layers)
        .write()
        .to_buffered(&mut bytes)
        .expect("write EXR");
    bytes.into_inner()
}

/// Decodes `bytes` through the fast path; `None` when it declines.
fn fast(bytes: &[u8]) -> Option<FrameImage> {
    let (width, height, channels) = super::read(Cursor::new(bytes))?;
    Some(crate::read::build(width, height, channels, Path::new("fast.exr")).expect("valid"))
}

/// Every encoding the fast path should take: scan lines and tiles, every
/// lossless compression and the lossy PXR24, B44 and B44A, both line orders.
fn encodings() -> Vec<Encoding> {
    let tiled = |compression, line_order| Encoding {
        compression,
        blocks: Blocks::Tiles(Vec2(16, 8)),
        line_order,
    };
    let lines = |compression| Encoding {
        compression,
        blocks: Blocks::ScanLines,
        line_order: LineOrder::Increasing,
    };
    vec![
        lines(Compression::Uncompressed),
        lines(Compression::RLE),
        lines(Compression::ZIP1),
        lines(Compression::ZIP16),
        lines(Compression::PIZ),
        lines(Compression::PXR24),
        lines(Compression::B44),
        lines(Compression::B44A),
        tiled(Compression::B44, LineOrder::Increasing),
        tiled(Compression::ZIP16, LineOrder::Increasing),
        tiled(Compression::PIZ, LineOrder::Decreasing),
        tiled(Compression::Uncompressed, LineOrder::Increasing),
    ]
}

#[test]
fn fast_path_matches_the_image_reader_for_every_encoding_and_sample_type() {
    for encoding in encodings() {
        for kind in [Kind::Half, Kind::Float, Kind::Uint] {
            let bytes = file(vec![layer(None, &["A", "B", "G", "R"], kind, encoding)]);
            let general = read_exr(&bytes, Path::new("general.exr")).expect("decodes");
            let fast =
                fast(&bytes).unwrap_or_else(|| panic!("fast path declined {encoding:?} {kind:?}"));
            assert_eq!(fast, general, "{encoding:?} {kind:?}");
            assert_eq!(fast.pixel_hash(), general.pixel_hash());
        }
    }
}

#[test]
fn fast_path_matches_the_image_reader_for_multilayer_files() {
    let tiled = Encoding {
        compression: Compression::ZIP16,
        blocks: Blocks::Tiles(Vec2(8, 8)),
        line_order: LineOrder::Increasing,
    };
    let bytes = file(vec![
        layer(
            Some("ViewLayer.Combined"),
            &["A", "B", "G", "R"],
            Kind::Float,
            Encoding::SMALL_LOSSLESS,
        ),
        layer(
            Some("ViewLayer.DiffCol"),
            &["B", "G", "R"],
            Kind::Half,
            tiled,
        ),
        layer(
            Some("ViewLayer.Depth"),
            &["Z"],
            Kind::Uint,
            Encoding::FAST_LOSSLESS,
        ),
    ]);
    let general = read_exr(&bytes, Path::new("general.exr")).expect("decodes");
    let fast = fast(&bytes).expect("fast path takes multilayer files");
    assert_eq!(fast, general);
    assert_eq!(fast.channel_names().len(), 8);
    assert_eq!(fast.channel_names()[0], "ViewLayer.Combined.A");
}

#[test]
fn fast_path_matches_the_image_reader_for_a_moved_data_window() {
    let mut moved = layer(
        Some("plain"),
        &["A", "B", "G", "R"],
        Kind::Float,
        Encoding::SMALL_LOSSLESS,
    );
    moved.attributes.layer_position = Vec2(-5, 3);
    let tiled = Encoding {
        compression: Compression::ZIP1,
        blocks: Blocks::Tiles(Vec2(8, 8)),
        line_order: LineOrder::Increasing,
    };
    let mut moved_tiles = layer(Some("tiles"), &["Y"], Kind::Half, tiled);
    moved_tiles.attributes.layer_position = Vec2(-5, 3);
    let bytes = file(vec![moved, moved_tiles]);
    let general = read_exr(&bytes, Path::new("general.exr")).expect("decodes");
    assert_eq!(fast(&bytes).expect("fast path takes it"), general);
}

#[test]
fn mip_maps_and_broken_files_go_to_the_image_reader() {
    let level = |size: usize| FlatSamples::F32((0..size).map(|i| i as f32).collect());
    let sizes = exr::meta::mip_map_levels(RoundingMode::Down, Vec2(SIZE.0, SIZE.1));
    let mip = AnyChannel::new(
        "Y",
        Levels::Mip {
            rounding_mode: RoundingMode::Down,
            level_data: sizes.map(|(_, s)| level(s.area())).collect(),
        },
    );
    let encoding = Encoding {
        compression: Compression::ZIP16,
        blocks: Blocks::Tiles(Vec2(16, 16)),
        line_order: LineOrder::Increasing,
    };
    let layer = Layer::new(
        SIZE,
        LayerAttributes::default(),
        encoding,
        AnyChannels::sort(SmallVec::from_vec(vec![mip])),
    );
    let mut bytes = Cursor::new(Vec::new());
    Image::from_layer(layer)
        .write()
        .to_buffered(&mut bytes)
        .expect("write EXR");
    let bytes = bytes.into_inner();
    assert!(fast(&bytes).is_none(), "mip maps are not the fast path's");
    let general = read_exr(&bytes, Path::new("mip.exr")).expect("decodes");
    assert_eq!(
        read_image_bytes(&bytes, Path::new("mip.exr")).expect("decodes"),
        general
    );
    let full: Vec<f32> = (0..SIZE.0 * SIZE.1).map(|i| i as f32).collect();
    assert_eq!(general.channel("Y").expect("Y").samples, full);

    let valid = file(vec![layer_of_default()]);
    for end in [valid.len() - 1, valid.len() / 2, 400] {
        assert!(fast(&valid[..end]).is_none(), "truncated at {end}");
        assert!(read_image_bytes(&valid[..end], Path::new("cut.exr")).is_err());
    }
}

/// A plain single-part RGBA float file.
fn layer_of_default() -> Layer<AnyChannels<FlatSamples>> {
    layer(
        None,
        &["A", "B", "G", "R"],
        Kind::Float,
        Encoding::SMALL_LOSSLESS,
    )
}
