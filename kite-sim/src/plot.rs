//! The report's pictures as SVG files (`kite-sim --svg DIR`, the `svg`
//! feature), drawn with plotters' SVG backend.
//!
//! [`write_svgs`] writes three files from the rows of one report:
//!
//! - `kite-sim-spread.svg`: the fraction of nodes that have an update
//!   against rounds since it was written, one thin curve per timed update
//!   and one colour per cluster size, with the push-pull model's curve
//!   ([`push_pull_curve`]) dashed beside it;
//! - `kite-sim-detection.svg`: the rounds until every live node saw a crash
//!   as down, one dot per crash and a bar at the median, per cluster size;
//! - `kite-sim-traffic.svg`: datagram bytes sent per node per round against
//!   the cluster size (logarithmic), one line per packet size.
//!
//! [`write_fraction_svg`] draws any "fraction against time, one curve per
//! label" picture; the loopback bench (`examples/examples/loopback_bench.rs`,
//! `KITE_BENCH_SVG=DIR`) uses it for formation and detection on real sockets.
//!
//! ```
//! # use core::time::Duration;
//! use kite_sim::report::{Options, measure};
//!
//! let options = Options { spread_repetitions: 2, crash_repetitions: 1, ..Options::default() };
//! let m = measure(5, 1400, &options, &mut |_| {});
//! let dir = std::env::temp_dir().join(format!("kite-sim-plot-doc-{}", std::process::id()));
//! let files = kite_sim::plot::write_svgs(&dir, &[m]).unwrap();
//! assert_eq!(files.len(), 3);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::io;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::report::{Measurement, percentile, push_pull_curve};

/// Picture size in pixels.
const SIZE: (u32, u32) = (760, 460);

/// One colour per row (cycled), readable on white.
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

/// The colour of the `i`-th row or series.
fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// A plotters error as an I/O error.
fn io_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// A drawing area of one SVG picture.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A chart of a fraction (0 to 1) against a linear x axis.
type FractionChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Writes `path` as one picture of [`SIZE`] on white, drawn by `draw`.
fn write_svg(path: &Path, draw: impl FnOnce(&Area<'_>) -> io::Result<()>) -> io::Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(io_error)?;
    draw(&root)?;
    root.present().map_err(io_error)
}

/// Writes the three pictures of `rows` (see the module documentation) into
/// `dir`, creating it if needed, and returns their paths.
///
/// # Errors
///
/// If `dir` cannot be created or a file cannot be written.
pub fn write_svgs(dir: &Path, rows: &[Measurement]) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    type Draw = fn(&Area<'_>, &[Measurement]) -> io::Result<()>;
    let pictures: [(&str, Draw); 3] = [
        ("kite-sim-spread.svg", spread),
        ("kite-sim-detection.svg", detection),
        ("kite-sim-traffic.svg", traffic),
    ];
    let mut written = Vec::new();
    for (name, draw) in pictures {
        let path = dir.join(name);
        write_svg(&path, |root| draw(root, rows))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes an SVG picture at `path` of a fraction (0 to 1, e.g. of the nodes
/// that have seen something) against `x` (e.g. seconds since it happened),
/// one solid curve and one colour per `(label, points)` of `curves`, with
/// the labels in a legend. The points of a curve are `(x, fraction)` in
/// order of `x`; a step curve is drawn by giving both corners of each step.
/// The x axis runs from 0 to a little past the largest `x`, described
/// under it by `x_desc`; `title` is the caption. The file's directory is
/// created if needed.
///
/// ```
/// let path = std::env::temp_dir().join(format!("kite-fraction-doc-{}.svg", std::process::id()));
/// let seen = vec![(0.0, 0.0), (0.2, 0.0), (0.2, 0.5), (0.4, 0.5), (0.4, 1.0)];
/// kite_sim::plot::write_fraction_svg(
///     &path,
///     "Fraction of nodes that saw it",
///     "seconds since it happened",
///     &[("N=2".to_string(), seen)],
/// )
/// .unwrap();
/// assert!(std::fs::read_to_string(&path).unwrap().contains("<svg"));
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
///
/// If the directory cannot be created or the file cannot be written.
pub fn write_fraction_svg(
    path: &Path,
    title: &str,
    x_desc: &str,
    curves: &[(String, Vec<(f64, f64)>)],
) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let x_max = curves
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.0))
        .filter(|x| x.is_finite())
        .fold(1e-3, f64::max)
        * 1.04;
    // Enough decimals for ticks a tenth to a twentieth of the axis apart.
    let decimals = match x_max {
        x if x < 2.0 => 2,
        x if x < 20.0 => 1,
        _ => 0,
    };
    write_svg(path, |area| {
        let mut chart = fraction_chart(area, title, x_desc, x_max, 11, decimals)?;
        for (i, (label, points)) in curves.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(io_error)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        // Fractions start at 0 on the left, so the upper left is free.
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// The axes of a fraction (0 to 1.02) against `0..x_max`, with `x_labels`
/// ticks written with `decimals` decimals, under the caption `title`.
fn fraction_chart<'a, 'b>(
    area: &'a Area<'b>,
    title: &str,
    x_desc: &str,
    x_max: f64,
    x_labels: usize,
    decimals: usize,
) -> io::Result<FractionChart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..x_max, 0f64..1.02f64)
        .map_err(io_error)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("fraction of nodes")
        .x_labels(x_labels)
        .x_label_formatter(&|x| format!("{x:.decimals$}"))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(io_error)?;
    Ok(chart)
}

/// Draws the legend of the labelled series of `chart` at `position`.
fn legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> io::Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(io_error)
}

/// Whether the rows have more than one packet size, so labels must name it.
fn several_packets(rows: &[Measurement]) -> bool {
    rows.windows(2)
        .any(|w| w[0].packet_size != w[1].packet_size)
}

/// A row's label: `N=100`, or `N=100, 1400 B` when packet sizes differ.
fn row_label(m: &Measurement, with_packet: bool) -> String {
    if with_packet {
        format!("N={}, {} B", m.n, m.packet_size)
    } else {
        format!("N={}", m.n)
    }
}

/// The model's curve for `n` nodes, up to the round where fewer than half a
/// node is left without the update (at most 40 rounds).
fn model_curve(n: usize) -> Vec<f64> {
    let curve = push_pull_curve(n, 40);
    let done = 1.0 - 0.5 / n.max(1) as f64;
    let end = curve.iter().position(|f| *f >= done).unwrap_or(40);
    curve[..=end].to_vec()
}

/// The fraction of nodes that have an update against rounds.
fn spread(area: &Area<'_>, rows: &[Measurement]) -> io::Result<()> {
    let with_packet = several_packets(rows);
    let x_max = rows
        .iter()
        .flat_map(|m| {
            m.spread_curves
                .iter()
                .map(|c| c.len().saturating_sub(1))
                .chain([model_curve(m.n).len() - 1])
        })
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = fraction_chart(
        area,
        "Fraction of nodes that have an update",
        "rounds since the update was written",
        x_max as f64,
        x_max.min(20) + 1,
        0,
    )?;
    for (i, m) in rows.iter().enumerate() {
        let c = color(i);
        for (j, curve) in m.spread_curves.iter().enumerate() {
            let all = curve.last().copied().unwrap_or(1).max(1) as f64;
            let points = curve
                .iter()
                .enumerate()
                .map(|(k, have)| (k as f64, *have as f64 / all));
            let series = chart
                .draw_series(LineSeries::new(points, c.mix(0.45).stroke_width(1)))
                .map_err(io_error)?;
            if j == 0 {
                let updates = m.spread_curves.len();
                series
                    .label(format!(
                        "{}: {updates} updates measured",
                        row_label(m, with_packet)
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2))
                    });
            }
        }
        let model = model_curve(m.n)
            .into_iter()
            .enumerate()
            .map(|(k, f)| (k as f64, f));
        chart
            .draw_series(DashedLineSeries::new(model, 6, 4, c.stroke_width(2)))
            .map_err(io_error)?
            .label(format!("{}: push-pull model", row_label(m, with_packet)))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 8, y)], c.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// The rounds until a crash is seen down by every live node, per row.
fn detection(area: &Area<'_>, rows: &[Measurement]) -> io::Result<()> {
    let with_packet = several_packets(rows);
    let labels: Vec<String> = rows.iter().map(|m| row_label(m, with_packet)).collect();
    let y_max = rows
        .iter()
        .flat_map(|m| m.detection_rounds.iter().copied())
        .fold(1.0, f64::max)
        * 1.15;
    let x_max = rows.len().max(1) as f64 - 0.5;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Rounds until a crash is seen down by every node",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5f64..x_max, 0f64..y_max)
        .map_err(io_error)?;
    let label_of = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(rows.len() + 1)
        .x_label_formatter(&label_of)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(BLACK.mix(0.04))
        .y_desc("rounds (one dot per crash, bar at the median)")
        .draw()
        .map_err(io_error)?;
    for (i, m) in rows.iter().enumerate() {
        let c = color(i);
        let count = m.detection_rounds.len().max(1) as f64;
        // Spread the dots sideways so equal times stay visible.
        let dots = m.detection_rounds.iter().enumerate().map(|(j, r)| {
            let offset = if count > 1.0 {
                (j as f64 / (count - 1.0) - 0.5) * 0.3
            } else {
                0.0
            };
            Circle::new((i as f64 + offset, *r), 5, c.mix(0.8).filled())
        });
        chart.draw_series(dots).map_err(io_error)?;
        if !m.detection_rounds.is_empty() {
            let median = percentile(&m.detection_rounds, 50.0);
            let x = i as f64;
            chart
                .draw_series([PathElement::new(
                    [(x - 0.3, median), (x + 0.3, median)],
                    BLACK.stroke_width(2),
                )])
                .map_err(io_error)?;
        }
    }
    Ok(())
}

/// Datagram bytes per node per round against N, one line per packet size.
fn traffic(area: &Area<'_>, rows: &[Measurement]) -> io::Result<()> {
    let mut packets: Vec<usize> = rows.iter().map(|m| m.packet_size).collect();
    packets.sort_unstable();
    packets.dedup();
    let n_min = rows.iter().map(|m| m.n).min().unwrap_or(10).max(1) as f64;
    let n_max = rows.iter().map(|m| m.n).max().unwrap_or(10).max(1) as f64;
    let y_max = rows
        .iter()
        .map(|m| m.bytes_per_node_round)
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("Datagram bytes sent per node per round", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((n_min * 0.7..n_max * 1.4).log_scale(), 0f64..y_max)
        .map_err(io_error)?;
    chart
        .configure_mesh()
        .x_desc("nodes (N, logarithmic)")
        .y_desc("bytes per node per round")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(io_error)?;
    for (i, packet) in packets.iter().enumerate() {
        let c = color(i);
        let mut points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|m| m.packet_size == *packet)
            .map(|m| (m.n as f64, m.bytes_per_node_round))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(io_error)?
            .label(format!("max_packet_size {packet} B"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, c.filled())))
            .map_err(io_error)?;
        chart
            .draw_series(points.iter().map(|(n, b)| {
                EmptyElement::at((*n, *b))
                    + Text::new(format!("{b:.0}"), (6, -18), ("sans-serif", 13).into_font())
            }))
            .map_err(io_error)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::synthetic;

    #[test]
    fn writes_three_svg_files() {
        let dir = std::env::temp_dir().join(format!("kite-sim-plot-test-{}", std::process::id()));
        let mut empty = synthetic(30, 65000);
        empty.spread_curves.clear();
        empty.detection_rounds.clear();
        let rows = [synthetic(10, 1400), synthetic(100, 1400), empty];
        let files = write_svgs(&dir, &rows).unwrap();
        assert_eq!(files.len(), 3);
        let texts = [
            "push-pull model",
            "N=100, 1400 B",
            "max_packet_size 65000 B",
        ];
        for (file, text) in files.iter().zip(texts) {
            let svg = std::fs::read_to_string(file).unwrap();
            assert!(
                svg.contains("<svg") && svg.contains("</svg>"),
                "{}",
                file.display()
            );
            assert!(svg.contains(text), "{}: {text}", file.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writes_a_fraction_picture() {
        let dir = std::env::temp_dir().join(format!("kite-fraction-test-{}", std::process::id()));
        let path = dir.join("sub").join("fraction.svg");
        let curves = [
            (
                "N=3: a".to_string(),
                vec![(0.0, 0.0), (0.25, 0.5), (1.5, 1.0)],
            ),
            ("N=100: b".to_string(), vec![(0.0, 0.0), (0.5, 1.0)]),
            ("empty".to_string(), Vec::new()),
        ];
        write_fraction_svg(&path, "A title", "seconds since", &curves).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        for text in ["A title", "seconds since", "N=3: a", "N=100: b"] {
            assert!(svg.contains(text), "{text}");
        }
        // No curves at all still gives a (blank) picture.
        write_fraction_svg(&path, "nothing", "x", &[]).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("<svg"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
