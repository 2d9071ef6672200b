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
