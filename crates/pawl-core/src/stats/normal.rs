//! The standard normal distribution: CDF, upper tail and quantile, to full double precision.

// Coefficients are written as their authors published them, digits beyond f64 included, so that they can
// be checked against the papers.
#![allow(clippy::excessive_precision)]

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_677_939_946_059_934;
const SQRT_32: f64 = 5.656_854_249_492_380_195_206_754_896_84;

/// Φ(x) = P(Z ≤ x).
///
/// W. J. Cody (1969), "Rational Chebyshev approximations for the error function", Math. Comp. 23,
/// 631–637, in the arrangement of R's `pnorm` (Cody's ANORM): relative error below 1e-15 over the whole
/// range, tails included. Far tails underflow to 0 or 1; NaN gives NaN.
pub fn cdf(x: f64) -> f64 {
    both_tails(x).0
}

/// 1 − Φ(x) = P(Z > x), accurate where Φ(x) rounds to 1.
pub fn sf(x: f64) -> f64 {
    both_tails(x).1
}

/// Two-sided p-value of a z statistic: P(|Z| ≥ |z|).
pub fn two_sided_p(z: f64) -> f64 {
    (2.0 * sf(z.abs())).min(1.0)
}

/// (Φ(x), 1 − Φ(x)), each computed where it is accurate.
fn both_tails(x: f64) -> (f64, f64) {
    const A: [f64; 5] = [
        2.235_252_035_460_683_928_7,
        161.028_231_068_555_878_81,
        1_067.689_485_460_370_958_2,
        18_154.981_253_343_561_249,
        0.065_682_337_918_207_449_113,
    ];
    const B: [f64; 4] = [
        47.202_581_904_688_241_87,
        976.098_551_737_776_693_22,
        10_260.932_208_618_978_205,
        45_507.789_335_026_729_956,
    ];
    const C: [f64; 9] = [
        0.398_941_512_088_134_667_64,
        8.883_149_794_388_375_941_2,
        93.506_656_132_177_855_979,
        597.270_276_394_800_262_26,
        2_494.537_585_290_372_671_1,
        6_848.190_450_536_282_332_6,
        11_602.651_437_647_350_124,
        9_842.714_838_383_978_021_8,
        1.076_557_677_372_019_231_7e-8,
    ];
    const D: [f64; 8] = [
        22.266_688_044_328_115_691,
        235.387_901_782_624_998_61,
        1_519.377_599_407_554_805,
        6_485.558_298_266_760_755,
        18_615.571_640_885_098_091,
        34_900.952_721_145_977_266,
        38_912.003_286_093_271_411,
        19_685.429_676_859_990_727,
    ];
    const P: [f64; 6] = [
        0.215_898_534_057_956_99,
        0.127_401_161_160_247_363_9,
        0.022_235_277_870_649_807,
        0.001_421_619_193_227_893_466,
        2.911_287_495_116_879_2e-5,
        0.023_073_441_764_940_173_03,
    ];
    const Q: [f64; 5] = [
        1.284_260_096_144_911_21,
        0.468_238_212_480_865_118,
        0.065_988_137_868_928_551_5,
        0.003_782_396_332_027_582_44,
        7.297_515_550_839_662_05e-5,
    ];

    if x.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    if x.is_infinite() {
        return if x > 0.0 { (1.0, 0.0) } else { (0.0, 1.0) };
    }
    let y = x.abs();
    if y <= 0.674_489_75 {
        // Near the centre: Φ(x) = ½ + x·R(x²).
        let xsq = if y > f64::EPSILON * 0.5 { x * x } else { 0.0 };
        let mut num = A[4] * xsq;
        let mut den = xsq;
        for i in 0..3 {
            num = (num + A[i]) * xsq;
            den = (den + B[i]) * xsq;
        }
        let t = x * (num + A[3]) / (den + B[3]);
        return (0.5 + t, 0.5 - t);
    }
    let tail = if y <= SQRT_32 {
        let mut num = C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + C[i]) * y;
            den = (den + D[i]) * y;
        }
        gaussian_factor(y) * (num + C[7]) / (den + D[7])
    } else {
        let xsq = 1.0 / (x * x);
        let mut num = P[5] * xsq;
        let mut den = xsq;
        for i in 0..4 {
            num = (num + P[i]) * xsq;
            den = (den + Q[i]) * xsq;
        }
        let r = xsq * (num + P[4]) / (den + Q[4]);
        gaussian_factor(y) * (FRAC_1_SQRT_2PI - r) / y
    };
    if x > 0.0 { (1.0 - tail, tail) } else { (tail, 1.0 - tail) }
}

/// exp(−y²/2), split so that y² is formed without rounding error (Cody's trick).
fn gaussian_factor(y: f64) -> f64 {
    let ysq = (y * 16.0).trunc() / 16.0;
    let del = (y - ysq) * (y + ysq);
    (-ysq * ysq * 0.5).exp() * (-del * 0.5).exp()
}

/// Φ⁻¹(p): the z with P(Z ≤ z) = p.
///
/// M. J. Wichura (1988), "Algorithm AS 241: The percentage points of the normal distribution",
/// Applied Statistics 37(3), 477–484 (PPND16, relative error about 1e-16). Returns −∞ at 0, +∞ at 1
/// and NaN outside [0, 1].
pub fn quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        let num = (((((((2.509_080_928_730_122_672_7e3 * r + 3.343_057_558_358_812_810_5e4) * r
            + 6.726_577_092_700_870_085_3e4)
            * r
            + 4.592_195_393_154_987_145_7e4)
            * r
            + 1.373_169_376_550_946_112_5e4)
            * r
            + 1.971_590_950_306_551_442_7e3)
            * r
            + 1.331_416_678_917_843_774_5e2)
            * r
            + 3.387_132_872_796_366_608_0)
            * q;
        let den = ((((((5.226_495_278_852_854_561_0e3 * r + 2.872_908_573_572_194_267_4e4) * r
            + 3.930_789_580_009_271_061_0e4)
            * r
            + 2.121_379_430_158_659_586_7e4)
            * r
            + 5.394_196_021_424_751_107_7e3)
            * r
            + 6.871_870_074_920_579_083_0e2)
            * r
            + 4.231_333_070_160_091_125_2e1)
            * r
            + 1.0;
        return num / den;
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let mut r = (-tail.ln()).sqrt();
    let z = if r <= 5.0 {
        r -= 1.6;
        let num = ((((((7.745_450_142_783_414_076_40e-4 * r + 2.272_384_498_926_918_458_33e-2) * r
            + 2.417_807_251_774_506_117_70e-1)
            * r
            + 1.270_458_252_452_368_382_58)
            * r
            + 3.647_848_324_763_204_605_04)
            * r
            + 5.769_497_221_460_691_405_50)
            * r
            + 4.630_337_846_156_545_295_90)
            * r
            + 1.423_437_110_749_683_577_34;
        let den = ((((((1.050_750_071_644_416_843_24e-9 * r + 5.475_938_084_995_344_946_00e-4) * r
            + 1.519_866_656_361_645_719_66e-2)
            * r
            + 1.481_039_764_274_800_745_90e-1)
            * r
            + 6.897_673_349_851_000_045_50e-1)
            * r
            + 1.676_384_830_183_803_849_40)
            * r
            + 2.053_191_626_637_758_821_87)
            * r
            + 1.0;
        num / den
    } else {
        r -= 5.0;
        let num = ((((((2.010_334_399_292_288_132_65e-7 * r + 2.711_555_568_743_487_578_15e-5) * r
            + 1.242_660_947_388_078_438_60e-3)
            * r
            + 2.653_218_952_657_612_309_30e-2)
            * r
            + 2.965_605_718_285_048_912_30e-1)
            * r
            + 1.784_826_539_917_291_335_80)
            * r
            + 5.463_784_911_164_114_369_90)
            * r
            + 6.657_904_643_501_103_777_20;
        let den = ((((((2.044_263_103_389_939_785_64e-15 * r + 1.421_511_758_316_445_888_70e-7) * r
            + 1.846_318_317_510_054_681_80e-5)
            * r
            + 7.868_691_311_456_132_591_00e-4)
            * r
            + 1.487_536_129_085_061_485_25e-2)
            * r
            + 1.369_298_809_227_358_053_10e-1)
            * r
            + 5.998_322_065_558_879_376_90e-1)
            * r
            + 1.0;
        num / den
    };
    if q < 0.0 { -z } else { z }
}

/// The two-sided critical value z with P(|Z| ≤ z) = `confidence` (2.5758 at 0.99).
pub fn two_sided_critical(confidence: f64) -> f64 {
    quantile(0.5 + 0.5 * confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn cdf_known_values() {
        // Reference values: 0.5 * erfc(-x / sqrt(2)) in Python's math module.
        let cases = [
            (0.0, 0.5),
            (0.5, 0.691_462_461_274_013_1),
            (1.0, 0.841_344_746_068_542_9),
            (1.959_963_984_540_054, 0.975),
            (-1.0, 0.158_655_253_931_457_05),
            (-3.0, 0.001_349_898_031_630_094_6),
            (-8.0, 6.220_960_574_271_819e-16),
            (-20.0, 2.753_624_118_606_331_4e-89),
            (-37.0, 5.725_571_222_525_139e-300),
        ];
        for (x, want) in cases {
            assert!(close(cdf(x), want, 1e-12), "Φ({x}) = {} want {want}", cdf(x));
            assert!(close(sf(-x), want, 1e-12), "1-Φ({}) = {} want {want}", -x, sf(-x));
        }
        assert_eq!(cdf(f64::INFINITY), 1.0);
        assert_eq!(cdf(f64::NEG_INFINITY), 0.0);
        assert!(cdf(f64::NAN).is_nan());
    }

    #[test]
    fn quantile_known_values() {
        let cases = [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.995, 2.575_829_303_548_900_4),
            (0.9, 1.281_551_565_544_600_4),
            (0.025, -1.959_963_984_540_054),
            (1e-10, -6.361_340_902_404_056),
            (1e-300, -37.047_096_299_361_2),
        ];
        for (p, want) in cases {
            assert!((quantile(p) - want).abs() <= 1e-13 * want.abs().max(1.0), "Φ⁻¹({p}) = {}", quantile(p));
        }
        assert_eq!(quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(quantile(1.0), f64::INFINITY);
        assert!(quantile(1.5).is_nan() && quantile(f64::NAN).is_nan());
        assert!((two_sided_critical(0.99) - 2.575_829_303_548_900_4).abs() < 1e-13);
    }

    #[test]
    fn quantile_inverts_cdf() {
        for i in 1..1000 {
            let p = f64::from(i) / 1000.0;
            assert!((cdf(quantile(p)) - p).abs() < 1e-14, "p = {p}");
        }
        assert!((two_sided_p(1.959_963_984_540_054) - 0.05).abs() < 1e-15);
    }
}
