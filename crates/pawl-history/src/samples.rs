//! The raw samples of a case, compressed for the store.
//!
//! Layout: one version byte (1), then a zstd frame (level 3) holding the sample count and the clock
//! count (u32, little-endian), the samples as f64 and the clocks as u32, each array *byte-shuffled*:
//! all first bytes, then all second bytes, and so on (the filter of HDF5 and Blosc). Timings of one case
//! share their sign, exponent and leading mantissa bytes, and CUDA event times are f32 milliseconds
//! scaled to nanoseconds, whose low mantissa bytes are zero; shuffled, those become long runs that zstd
//! packs into little. docs/history.md gives the size measured on real H100 samples.

/// The first byte of every encoded sample blob.
const VERSION: u8 = 1;
const LEVEL: i32 = 3;

/// Why a stored blob could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum SampleCodecError {
    #[error("the sample blob is empty")]
    Empty,
    #[error("the sample blob has format version {0}; this pawl reads version {VERSION}")]
    Version(u8),
    #[error("the sample blob does not decompress: {0}")]
    Decompress(std::io::Error),
    #[error("the sample blob holds {got} bytes where its counts need {needed}")]
    Length { needed: usize, got: usize },
}

/// Encodes samples (ns) and the SM clock of each (MHz; empty where none was read).
pub fn encode(samples_ns: &[f64], clocks_mhz: &[u32]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(8 + samples_ns.len() * 8 + clocks_mhz.len() * 4);
    raw.extend((samples_ns.len() as u32).to_le_bytes());
    raw.extend((clocks_mhz.len() as u32).to_le_bytes());
    shuffle(samples_ns.iter().map(|v| v.to_le_bytes()), &mut raw);
    shuffle(clocks_mhz.iter().map(|v| v.to_le_bytes()), &mut raw);
    let mut out = vec![VERSION];
    // Compressing a byte slice into a Vec cannot fail for want of room.
    out.extend(zstd::bulk::compress(&raw, LEVEL).expect("zstd compresses into a growable buffer"));
    out
}

/// Decodes what [`encode`] wrote: (samples ns, clocks MHz).
pub fn decode(blob: &[u8]) -> Result<(Vec<f64>, Vec<u32>), SampleCodecError> {
    let (&version, frame) = blob.split_first().ok_or(SampleCodecError::Empty)?;
    if version != VERSION {
        return Err(SampleCodecError::Version(version));
    }
    let raw = zstd::stream::decode_all(frame).map_err(SampleCodecError::Decompress)?;
    let count = |at: usize| -> Result<usize, SampleCodecError> {
        let bytes = raw.get(at..at + 4).ok_or(SampleCodecError::Length { needed: at + 4, got: raw.len() })?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("four bytes")) as usize)
    };
    let (n, m) = (count(0)?, count(4)?);
    let needed = 8 + n * 8 + m * 4;
    if raw.len() != needed {
        return Err(SampleCodecError::Length { needed, got: raw.len() });
    }
    let samples = unshuffle::<8>(&raw[8..8 + n * 8]).into_iter().map(f64::from_le_bytes).collect();
    let clocks = unshuffle::<4>(&raw[8 + n * 8..]).into_iter().map(u32::from_le_bytes).collect();
    Ok((samples, clocks))
}

/// Appends the values' bytes plane by plane: byte 0 of every value, then byte 1, …
fn shuffle<const W: usize>(values: impl ExactSizeIterator<Item = [u8; W]> + Clone, out: &mut Vec<u8>) {
    for plane in 0..W {
        out.extend(values.clone().map(|bytes| bytes[plane]));
    }
}

fn unshuffle<const W: usize>(planes: &[u8]) -> Vec<[u8; W]> {
    let n = planes.len() / W;
    (0..n).map(|i| std::array::from_fn(|plane| planes[plane * n + i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exactly() {
        let samples: Vec<f64> = (0..1000).map(|i| f64::from(0.0123_f32 + i as f32 * 1e-6) * 1e6).collect();
        let clocks: Vec<u32> = (0..1000).map(|i| 1980 - (i % 3) as u32 * 15).collect();
        let blob = encode(&samples, &clocks);
        assert_eq!(decode(&blob).unwrap(), (samples.clone(), clocks));
        assert!(blob.len() < samples.len() * 8 / 2, "{} bytes", blob.len());
        assert_eq!(decode(&encode(&[], &[])).unwrap(), (vec![], vec![]));
        let odd = [f64::MIN_POSITIVE, 1e300, 12_345.678_901_234_5];
        assert_eq!(decode(&encode(&odd, &[])).unwrap().0, odd);
    }

    #[test]
    fn damaged_blobs_are_errors() {
        assert!(matches!(decode(&[]), Err(SampleCodecError::Empty)));
        assert!(matches!(decode(&[9, 1, 2]), Err(SampleCodecError::Version(9))));
        assert!(matches!(decode(&[VERSION, 1, 2, 3]), Err(SampleCodecError::Decompress(_))));
        let mut blob = vec![VERSION];
        blob.extend(zstd::bulk::compress(&[5, 0, 0, 0, 0, 0, 0, 0, 1, 2], 3).unwrap());
        assert!(matches!(decode(&blob), Err(SampleCodecError::Length { needed: 48, got: 10 })));
    }
}
