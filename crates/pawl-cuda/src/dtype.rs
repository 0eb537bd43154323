//! Host-side element conversions: decoding device bytes to `f64` for the check, and encoding scalar
//! kernel arguments. Half precision is done by hand, so pawl needs no `half` dependency.

use pawl_core::suite::Dtype;

/// IEEE binary16 bits to `f64` (exact: every half is a double).
pub fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// bfloat16 bits to `f64` (exact: the top half of an `f32`).
pub fn bf16_to_f64(bits: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(bits) << 16))
}

/// `f32` to binary16 bits, rounding to nearest even; overflow gives infinity, NaN stays NaN.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Subnormal half (or zero): shift the full significand into place, rounding to nearest even.
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rest = m & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let round = u32::from(rest > halfway || (rest == halfway && half & 1 == 1));
        return sign | (half + round) as u16;
    }
    let half = ((e as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1fff;
    let round = u32::from(rest > 0x1000 || (rest == 0x1000 && half & 1 == 1));
    sign | (half + round) as u16 // a carry into the exponent is the correct rounding, up to infinity
}

/// `f32` to bfloat16 bits, rounding to nearest even; NaN stays NaN.
pub fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return 0x7fc0 | ((bits >> 16) as u16 & 0x8000);
    }
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// Element `i` of a buffer of `dtype` held in `bytes` (little-endian, as on the GPU).
pub fn element(dtype: Dtype, bytes: &[u8], i: usize) -> f64 {
    let size = dtype.size_bytes();
    let b = &bytes[i * size..(i + 1) * size];
    match dtype {
        Dtype::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        Dtype::F16 => f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
        Dtype::Bf16 => bf16_to_f64(u16::from_le_bytes([b[0], b[1]])),
        Dtype::F64 => f64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
        Dtype::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        Dtype::I64 => i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f64,
        Dtype::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        Dtype::U8 => f64::from(b[0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_round_trips_and_rounds_to_nearest_even() {
        for x in [0.0f32, 1.0, -2.5, 65504.0, 6.1035156e-5, 5.9604645e-8, 0.333_251_95] {
            assert_eq!(f16_to_f64(f32_to_f16(x)), f64::from(x), "{x}");
        }
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(65520.0), 0x7c00, "rounds up to infinity");
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00, "a tie rounds to even");
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02, "a tie rounds to even");
        assert!(f16_to_f64(f32_to_f16(f32::NAN)).is_nan());
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0xffff).is_nan(), "the poison pattern is NaN");
    }

    #[test]
    fn bfloat16_round_trips() {
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        assert_eq!(bf16_to_f64(f32_to_bf16(-3.5)), -3.5);
        assert_eq!(f32_to_bf16(1.0 + 1.0 / 256.0), 0x3f80, "a tie rounds to even");
        assert!(bf16_to_f64(0xffff).is_nan());
    }

    #[test]
    fn elements_decode_by_dtype() {
        let bytes: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(element(Dtype::F32, &bytes, 1), -2.0);
        assert_eq!(element(Dtype::I32, &(-7i32).to_le_bytes(), 0), -7.0);
        assert_eq!(element(Dtype::U8, &[3, 250], 1), 250.0);
        assert_eq!(element(Dtype::I64, &(-9i64).to_le_bytes(), 0), -9.0);
        assert_eq!(element(Dtype::F16, &0x3c00u16.to_le_bytes(), 0), 1.0);
    }
}
