//! Splitting a job's frames into tasks.

/// Cut `frames` (in render order) into chunks of at most `chunk_size` frames.
/// A worker renders each chunk in one renderer process, so larger chunks
/// spread the renderer's start-up cost over more frames.
pub fn chunks(frames: &[i32], chunk_size: u32) -> Vec<Vec<i32>> {
    frames
        .chunks(chunk_size.max(1) as usize)
        .map(<[i32]>::to_vec)
        .collect()
}

/// Map a job priority (0 to 100) to a queue message priority (0 to
/// `protocol::queues::MAX_PRIORITY`).
pub fn message_priority(job_priority: u8) -> u8 {
    let max = u32::from(protocol::queues::MAX_PRIORITY);
    (u32::from(job_priority.min(100)) * max / 100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chunks_keep_order_and_size() {
        assert_eq!(
            chunks(&[1, 2, 3, 4, 5], 2),
            vec![vec![1, 2], vec![3, 4], vec![5]]
        );
        assert_eq!(chunks(&[5, 4, 3], 10), vec![vec![5, 4, 3]]);
        assert_eq!(chunks(&[1, 2], 0), vec![vec![1], vec![2]]);
    }

    #[test]
    fn priorities_map_onto_the_queue_range() {
        assert_eq!(message_priority(0), 0);
        assert_eq!(message_priority(50), 5);
        assert_eq!(message_priority(100), protocol::queues::MAX_PRIORITY);
        assert_eq!(message_priority(255), protocol::queues::MAX_PRIORITY);
    }

    proptest! {
        #[test]
        fn chunking_loses_and_duplicates_nothing(spec in "[0-9]{1,3}(-[0-9]{1,3}(x[1-9])?)?", size in 1u32..40) {
            let Ok(spec) = protocol::FrameSpec::parse(&spec, 10_000) else { return Ok(()); };
            let parts = chunks(spec.frames(), size);
            prop_assert!(parts.iter().all(|c| !c.is_empty() && c.len() <= size as usize));
            prop_assert_eq!(parts.concat(), spec.frames().to_vec());
            prop_assert_eq!(parts.len(), spec.frames().len().div_ceil(size as usize));
        }
    }
}
