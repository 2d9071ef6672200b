//! Unit tests of `train/src/optim.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::train::optim::*;

#[test]
fn first_step_moves_by_lr_against_the_gradient_sign() {
    let mut m = [0.0f32; 2];
    let mut v = [0.0f32; 2];
    let mut g = [0.5f32, -2.0];
    let mut w = [1.0f32, 1.0];
    let h = Hyper {
        lr: 0.1,
        wd: 0.0,
        bc1: 1.0 - BETA1,
        bc2: 1.0 - BETA2,
    };
    update_slices(&mut w, &mut m, &mut v, &mut g, &h);
    assert!(
        (w[0] - 0.9).abs() < 1e-5 && (w[1] - 1.1).abs() < 1e-5,
        "{w:?}"
    );
    assert_eq!(g, [0.0, 0.0]);
}
