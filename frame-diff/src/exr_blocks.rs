//! The fast OpenEXR path: blocks decompressed in parallel and written
//! straight into the `f32` planes.
//!
//! The `exr` crate's image reader decompresses blocks on its own thread pool
//! but inserts every block into its sample storage on one thread, and the
//! planes are then converted and moved once more. Here the file's blocks are
//! grouped into bands of rows (one scan line block, or one row of tiles);
//! bands cover disjoint rows, so each plane is split into one mutable slice
//! per band and the bands are decompressed and written on rayon's pool,
//! each sample converted to `f32` exactly once.
//!
//! Only the common layout is handled: flat scan line or single-level tiled
//! parts, all of one size, each block present exactly once. Anything else
//! (mip or rip maps, deep data, a missing or repeated block, any error) makes
//! [`read`] return `None`, and the caller decodes the file with the `exr`
//! crate's image reader, which reports the problem or handles the layout.

use std::io::{Read, Seek};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use exr::block::UncompressedBlock;
use exr::block::chunk::Chunk;
use exr::meta::attribute::{LevelMode, SampleType};
use exr::meta::header::Header;
use exr::meta::{BlockDescription, MetaData};
use exr::prelude::{Vec2, f16};

use crate::image::Channel;
use crate::read::MAX_SAMPLES;

/// A decoded EXR: width, height and the channels with their full names (unsorted).
pub(crate) type Decoded = (u32, u32, Vec<Channel>);

/// One band of one part: its compressed blocks and the rows of every plane
/// of the part that the band covers.
struct Band<'p> {
    /// Index of the part (header).
    part: usize,
    /// First row of the band.
    y: usize,
    /// Number of blocks in the band (one, or the tiles in a row).
    blocks: usize,
    /// The band's blocks, left to right once sorted.
    chunks: Vec<Chunk>,
    /// The band's rows of each channel plane of the part, in channel list order.
    rows: Vec<&'p mut [f32]>,
}

/// Decodes an EXR from `source` through the fast path; `None` when the file
/// needs the general reader (unusual layout, or anything wrong with it).
pub(crate) fn read(source: impl Read + Seek + Send) -> Option<Decoded> {
    let reader = exr::block::read(source, false).ok()?;
    let headers = reader.headers();
    let size = headers.first()?.layer_size;
    let samples: usize = headers.iter().map(|h| h.channels.list.len()).sum();
    if !headers.iter().all(|h| supported(h, size))
        || (samples as u64).saturating_mul(size.area() as u64) > MAX_SAMPLES
    {
        return None;
    }
    let width = u32::try_from(size.width()).ok()?;
    let height = u32::try_from(size.height()).ok()?;
    let pixels = size.width().checked_mul(size.height())?;
    let mut planes: Vec<Vec<Vec<f32>>> = headers
        .iter()
        .map(|h| h.channels.list.iter().map(|_| vec![0f32; pixels]).collect())
        .collect();
    let names: Vec<String> = headers.iter().flat_map(full_names).collect();

    let meta = reader.meta_data().clone();
    let chunks = reader.filter_chunks(false, |_, _, _| true).ok()?;
    let (bands, first_band) = split_bands(&mut planes, &meta.headers, size.width());
    let mut pending: Vec<Option<Band<'_>>> = bands.into_iter().map(Some).collect();
    let failed = AtomicBool::new(false);
    // Chunks are read in file order on this thread; a band is decoded on
    // the pool as soon as its last block has been read, so reading overlaps
    // decoding. With a few bands waiting already this thread decodes the
    // band itself instead of reading ahead: few blocks are in memory at
    // once, and the allocator hands the freed buffers straight back instead
    // of fresh pages (each first touch of a page is a costly page fault).
    let in_flight = AtomicUsize::new(0);
    let max_in_flight = 2 * rayon::current_num_threads();
    rayon::scope(|scope| {
        for chunk in chunks {
            let band = chunk.ok().and_then(|chunk| {
                let header = meta.headers.get(chunk.layer_index)?;
                let tile = header
                    .get_block_data_indices(&chunk.compressed_block)
                    .ok()?;
                let index = first_band.get(chunk.layer_index)? + tile.tile_index.y();
                let slot = pending.get_mut(index)?;
                let band = slot.as_mut().filter(|b| b.part == chunk.layer_index)?;
                band.chunks.push(chunk);
                Some(if band.chunks.len() == band.blocks {
                    slot.take()
                } else {
                    None
                })
            });
            match band {
                None => failed.store(true, Ordering::Relaxed),
                Some(None) => {}
                Some(Some(band)) if in_flight.load(Ordering::Relaxed) >= max_in_flight => {
                    if decode_band(band, &meta, size.width()).is_none() {
                        failed.store(true, Ordering::Relaxed);
                    }
                }
                Some(Some(band)) => {
                    let (meta, failed, in_flight) = (&meta, &failed, &in_flight);
                    in_flight.fetch_add(1, Ordering::Relaxed);
                    scope.spawn(move |_| {
                        if decode_band(band, meta, size.width()).is_none() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                    });
                }
            }
            if failed.load(Ordering::Relaxed) {
                break;
            }
        }
    });
    if failed.into_inner() || pending.iter().any(Option::is_some) {
        return None;
    }
    let channels = names
        .into_iter()
        .zip(planes.into_iter().flatten())
        .map(|(name, samples)| Channel { name, samples })
        .collect();
    Some((width, height, channels))
}

/// True when `header` has the layout the fast path handles and is `size` large.
fn supported(header: &Header, size: Vec2<usize>) -> bool {
    let single_level = match header.blocks {
        BlockDescription::ScanLines => true,
        BlockDescription::Tiles(tiles) => tiles.level_mode == LevelMode::Singular,
    };
    single_level
        && !header.deep
        && header.layer_size == size
        && size.area() > 0
        && !header.channels.list.is_empty()
        && header.max_block_pixel_size().area() > 0
        && header
            .channels
            .list
            .iter()
            .all(|c| c.sampling == Vec2(1, 1))
}

/// Full names of the part's channels: `"part.channel"` in a named part.
fn full_names(header: &Header) -> Vec<String> {
    let prefix = header.own_attributes.layer_name.as_ref();
    header
        .channels
        .list
        .iter()
        .map(|c| match prefix {
            Some(part) => format!("{part}.{}", c.name),
            None => c.name.to_string(),
        })
        .collect()
}

/// Cuts every plane into bands of its part's block height; also returns
/// the index of each part's first band.
fn split_bands<'p>(
    planes: &'p mut [Vec<Vec<f32>>],
    headers: &[Header],
    width: usize,
) -> (Vec<Band<'p>>, Vec<usize>) {
    let mut bands = Vec::new();
    let mut starts = Vec::new();
    for (part, (part_planes, header)) in planes.iter_mut().zip(headers).enumerate() {
        let block = header.max_block_pixel_size();
        let first = bands.len();
        starts.push(first);
        for (c, plane) in part_planes.iter_mut().enumerate() {
            for (i, rows) in plane.chunks_mut(block.height() * width).enumerate() {
                if c == 0 {
                    bands.push(Band {
                        part,
                        y: i * block.height(),
                        blocks: width.div_ceil(block.width()),
                        chunks: Vec::new(),
                        rows: Vec::new(),
                    });
                }
                bands[first + i].rows.push(rows);
            }
        }
    }
    (bands, starts)
}

/// Decompresses the band's blocks into its rows; `None` if a block is
/// missing, repeated, misplaced or fails to decompress.
fn decode_band(mut band: Band<'_>, meta: &MetaData, width: usize) -> Option<()> {
    let header = &meta.headers[band.part];
    let mut x = 0;
    let mut blocks = band
        .chunks
        .drain(..)
        .map(|chunk| UncompressedBlock::decompress_chunk(chunk, meta, false).ok())
        .collect::<Option<Vec<_>>>()?;
    blocks.sort_by_key(|b| b.index.pixel_position.x());
    for block in blocks {
        let index = block.index;
        if index.layer != band.part
            || index.level != Vec2(0, 0)
            || index.pixel_position != Vec2(x, band.y)
        {
            return None;
        }
        write_block(
            &block.data,
            header,
            index.pixel_size,
            x,
            width,
            &mut band.rows,
        )?;
        x += index.pixel_size.width();
    }
    (x == width).then_some(())
}

/// Writes one decompressed block (per line, per channel, a run of native-endian
/// samples) into the band's rows starting at column `x`.
fn write_block(
    data: &[u8],
    header: &Header,
    size: Vec2<usize>,
    x: usize,
    width: usize,
    rows: &mut [&mut [f32]],
) -> Option<()> {
    let expected = header.channels.bytes_per_pixel.checked_mul(size.area())?;
    if data.len() != expected || size.width() == 0 {
        return None;
    }
    let mut lines = data;
    for line in 0..size.height() {
        for (channel, plane) in header.channels.list.iter().zip(rows.iter_mut()) {
            let start = line * width + x;
            let out = plane.get_mut(start..start + size.width())?;
            let bytes = match channel.sample_type {
                SampleType::F16 => 2,
                SampleType::F32 | SampleType::U32 => 4,
            } * size.width();
            let (run, rest) = lines.split_at(bytes);
            lines = rest;
            convert(channel.sample_type, run, out);
        }
    }
    Some(())
}

/// Converts a run of native-endian samples of `kind` into `out`.
fn convert(kind: SampleType, run: &[u8], out: &mut [f32]) {
    match kind {
        SampleType::F32 => {
            for (o, b) in out.iter_mut().zip(run.chunks_exact(4)) {
                *o = f32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        SampleType::U32 => {
            for (o, b) in out.iter_mut().zip(run.chunks_exact(4)) {
                *o = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as f32;
            }
        }
        SampleType::F16 => {
            for (o, b) in out.iter_mut().zip(run.chunks_exact(2)) {
                *o = f16::from_bits(u16::from_ne_bytes([b[0], b[1]])).to_f32();
            }
        }
    }
}

#[cfg(test)]
mod tests;
