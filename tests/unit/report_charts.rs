//! Unit tests of `report/src/charts/mod.rs` (moved out of the library: see `tests/unit/mod.rs`).

use crate::unit::report_render::{analysis, row};
use botify_sim::report::Metric;
use botify_sim::report::charts::*;

/// The PNG people open: a whole image of the chart's size, with the chart drawn on it.
#[test]
fn png_charts_decode_to_drawn_images_of_their_size() {
    let a = analysis(vec![
        row("T1", Metric::MeanTimePerSession, 9.5, true, true),
        row("T1", Metric::Sessions, -1.0, false, false),
    ]);
    let plot = ForestPlot::new(&a);
    let bytes = render_png(&plot).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), plot.size());
    assert_eq!(frame.color_type, png::ColorType::Rgb);
    let pixels: Vec<&[u8]> = pixels[..frame.buffer_size()].chunks(3).collect();
    let white = pixels.iter().filter(|p| **p == [255, 255, 255]).count();
    let share = white as f64 / pixels.len() as f64;
    assert!((0.5..0.995).contains(&share), "white share {share}");
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    assert!(
        colours.len() > 20,
        "{} colours: no text or lines",
        colours.len()
    );
}
