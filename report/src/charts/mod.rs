//! Charts of the report, drawn with plotters. One [`Chart`] trait says what to draw; the
//! two back ends (SVG and PNG, see [`ImageFormat`]) render any chart. Text uses the DejaVu
//! Sans font embedded in the binary (registered once), so no system font is needed.

mod by_day;
pub mod distribution;
pub mod forest;
pub mod running_mean;

pub use by_day::MetricByDay;
pub use distribution::SessionTimeDistribution;
pub use forest::ForestPlot;
pub use running_mean::RunningMean;

use super::Analysis;
use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontDesc, FontFamily, FontStyle, RGBColor};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A chart that any plotters back end can draw.
pub trait Chart {
    /// File name without extension, e.g. `forest`.
    fn stem(&self) -> &'static str;
    /// Human title (also used as alt text).
    fn title(&self) -> String;
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the chart on `area`.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>;
}

/// The image formats charts are rendered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Svg,
    Png,
}

impl ImageFormat {
    pub const ALL: [ImageFormat; 2] = [ImageFormat::Svg, ImageFormat::Png];

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        }
    }

    /// Renders `chart` to `path`, whole or not at all (see [`botify_sim_core::atomic_file`]).
    pub fn render<C: Chart>(self, chart: &C, path: &Path) -> anyhow::Result<()> {
        let bytes = match self {
            ImageFormat::Svg => render_svg(chart).map(String::into_bytes),
            ImageFormat::Png => render_png(chart),
        }
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        botify_sim_core::atomic_file::write(path, &bytes)
    }
}

/// Renders `chart` as an SVG document (for inlining into HTML).
pub fn render_svg<C: Chart>(chart: &C) -> anyhow::Result<String> {
    register_fonts()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// Renders `chart` as a PNG file's bytes: plotters draws into an RGB buffer and the `png`
/// crate encodes it (plotters' own encoder would pull in the whole `image` crate).
pub fn render_png<C: Chart>(chart: &C) -> anyhow::Result<Vec<u8>> {
    register_fonts()?;
    let (width, height) = chart.size();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // The default filter (Sub). Without a filter the PNGs were 3 to 9 times larger and
    // took 86 M instructions to deflate, against 80 M to filter and deflate now
    // (cachegrind, `sim run --experiment seminar --episodes 20000`).
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb))
        .map_err(|e| anyhow!("cannot encode chart as PNG: {e}"))?;
    Ok(png)
}

/// The three charts of a report.
pub struct ChartSet<'a> {
    pub forest: ForestPlot<'a>,
    pub distribution: SessionTimeDistribution<'a>,
    pub running_mean: RunningMean<'a>,
}

impl<'a> ChartSet<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        Self {
            forest: ForestPlot::new(analysis),
            distribution: SessionTimeDistribution::new(analysis),
            running_mean: RunningMean::new(analysis),
        }
    }

    /// (stem, title) of every chart, in display order.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        vec![
            (self.forest.stem(), self.forest.title()),
            (self.distribution.stem(), self.distribution.title()),
            (self.running_mean.stem(), self.running_mean.title()),
        ]
    }

    /// Renders every chart in every format, each once and all in parallel: the files to
    /// write into `dir` (SVGs, then PNGs) and every chart's SVG for inlining, in display
    /// order, as (stem, title, svg).
    pub fn render_all(&self, dir: &Path) -> anyhow::Result<(Vec<ChartFile>, Vec<ChartSvg>)> {
        let ((forest, distribution), running_mean) = rayon::join(
            || {
                rayon::join(
                    || both_formats(&self.forest),
                    || both_formats(&self.distribution),
                )
            },
            || both_formats(&self.running_mean),
        );
        let charts = [
            (self.forest.stem(), self.forest.title(), forest),
            (
                self.distribution.stem(),
                self.distribution.title(),
                distribution,
            ),
            (
                self.running_mean.stem(),
                self.running_mean.title(),
                running_mean,
            ),
        ];
        let mut files = Vec::new();
        for format in ImageFormat::ALL {
            for (stem, _, (svg, png)) in &charts {
                let path = dir.join(format!("{stem}.{}", format.extension()));
                let bytes = match format {
                    ImageFormat::Svg => svg.as_ref().map(String::as_bytes),
                    ImageFormat::Png => png.as_deref(),
                }
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
                files.push((path, bytes.to_vec()));
            }
        }
        let svgs = charts
            .into_iter()
            .map(|(stem, title, (svg, _))| Ok((stem, title, svg?)))
            .collect::<anyhow::Result<_>>()?;
        Ok((files, svgs))
    }
}

/// A chart file to write: (path, bytes).
pub type ChartFile = (PathBuf, Vec<u8>);

/// A chart as inline SVG: (stem, title, svg).
pub type ChartSvg = (&'static str, String, String);

/// `chart` as SVG and as PNG, rendered in parallel.
fn both_formats<C: Chart + Sync>(chart: &C) -> (anyhow::Result<String>, anyhow::Result<Vec<u8>>) {
    rayon::join(|| render_svg(chart), || render_png(chart))
}

static FONTS: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers DejaVu Sans (regular and bold) as plotters' `sans-serif`.
pub fn register_fonts() -> anyhow::Result<()> {
    FONTS
        .get_or_init(|| {
            plotters::style::register_font(
                "sans-serif",
                FontStyle::Normal,
                dejavu::sans::regular(),
            )
            .map_err(|_| "cannot load the embedded DejaVu Sans font".to_string())?;
            plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
                .map_err(|_| "cannot load the embedded DejaVu Sans Bold font".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

pub fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw chart: {e:?}")
}

/// Regular text.
pub fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)
}

/// Bold text (`.style(Bold)` on a font would silently stay regular).
pub fn bold(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Bold)
}

/// Distinct colours for arms (Tableau 10).
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub fn arm_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A range padded by 5 % on each side (and made non-empty).
pub fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - 0.05 * span, hi + 0.05 * span)
}
