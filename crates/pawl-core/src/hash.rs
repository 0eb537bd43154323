//! Stable hashes: the same bits on every machine, in every release (std's hasher may change between
//! Rust releases, and is seeded per process). Seeds of resampling, buffer contents and the assignment
//! of cases to shards rest on them.

/// FNV-1a, 64 bits (Fowler, Noll & Vo): a stable hash of a case id or a name.
///
/// Its low bits mix poorly (the lowest is the parity of the bytes' lowest bits), so anything that
/// reduces it to a small range passes it through [`splitmix64`] first.
pub fn fnv1a(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The SplitMix64 finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
/// generators"): every input bit reaches every output bit, so nearby inputs give unrelated outputs.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        // From the FNV reference test suite (64-bit FNV-1a).
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // SplitMix64 seeded with 0 yields finaliser(k · golden gamma) for k = 1, 2, …: its first output
        // is 0xe220a8397b1dcdaf (the reference implementation's).
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }
}
