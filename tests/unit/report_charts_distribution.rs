//! Unit tests of `core/src/report/charts/distribution.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::report::charts::distribution::Bins;

#[test]
fn bins_follow_freedman_diaconis_and_leave_out_the_far_tail() {
    // 1000 values 0.000..0.999: IQR 0.5, width 2 * 0.5 / 10 = 0.1.
    let v: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
    let b = Bins::of(&v);
    assert_eq!(b.lo, 0.0);
    assert_eq!(b.hi, 0.994);
    assert_eq!(b.count, 10);
    let (counts, above) = b.count(&v);
    assert_eq!(above, 5);
    assert_eq!(counts.iter().sum::<u64>(), 995);
}

#[test]
fn constant_or_empty_data_still_gets_bins() {
    let b = Bins::of(&[2.0; 50]);
    assert_eq!((b.lo, b.hi), (2.0, 3.0));
    assert_eq!(b.count, 7, "Sturges: log2(50) + 1, rounded up");
    assert_eq!(b.count(&[2.0; 50]).0[0], 50);
    assert_eq!(Bins::of(&[]).count, 1);
    assert_eq!(Bins::of(&[f64::NAN]).count, 1);
}

/// The bins of the sort this replaced: quantiles by indexing the sorted values.
fn bins_by_sorting(values: &[f64]) -> Bins {
    let mut v: Vec<f64> = values.iter().copied().filter(|t| t.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let Some((&min, &max)) = v.first().zip(v.last()) else {
        return Bins::of(&[]);
    };
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let mut hi = q(0.995);
    if hi <= min {
        hi = max;
    }
    if hi <= min {
        hi = min + 1.0;
    }
    let n = v.len() as f64;
    let fd_width = 2.0 * (q(0.75) - q(0.25)) / n.cbrt();
    let count = if fd_width > 0.0 {
        ((hi - min) / fd_width).ceil() as usize
    } else {
        n.log2().ceil() as usize + 1
    };
    Bins {
        lo: min,
        hi,
        count: count.clamp(1, 120),
    }
}

/// Quantiles found by selection are those of the sorted values, bit for bit, in any input
/// order, with ties, signed zeros and non-finite values among them, for every small size.
#[test]
fn bins_by_selection_equal_bins_by_sorting() {
    use rand::{RngExt, SeedableRng};
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(7);
    for n in (0..40).chain([99, 1000, 4321]) {
        for _ in 0..20 {
            let v: Vec<f64> = (0..n)
                .map(|_| match rng.random_range(0..10) {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f64::NAN,
                    3 => f64::INFINITY,
                    4 => -3.5,
                    5 => f64::from(rng.random_range(0..5u8)) / 4.0,
                    _ => rng.random::<f64>() * 40.0 - 5.0,
                })
                .collect();
            let (by_selection, by_sorting) = (Bins::of(&v), bins_by_sorting(&v));
            assert_eq!(
                (by_selection.lo.to_bits(), by_selection.hi.to_bits()),
                (by_sorting.lo.to_bits(), by_sorting.hi.to_bits()),
                "{v:?}"
            );
            assert_eq!(by_selection.count, by_sorting.count, "{v:?}");
        }
    }
}
