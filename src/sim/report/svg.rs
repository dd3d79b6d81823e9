//! A hand-written SVG line chart of pods per node over cluster time: axes with ticks, one
//! colour per named node with a legend, the other nodes as one grey band from their fewest to
//! their most pods, and dashed marks at the scenario's events. Every value is drawn where it
//! is. Pure text out.

use std::fmt::Write as _;

use super::{Report, text::clock};

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];
/// The grey of the band of nodes not named.
const BAND: &str = "#c8c8c8";

/// The nodes drawn as their own line, at most one per colour: all of them when they are few;
/// otherwise the busiest and the emptiest at the end, so the spread the story is about shows.
pub fn named_nodes(report: &Report) -> Vec<&str> {
    let mut nodes: Vec<(&str, u32)> = report
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.pods_at_end))
        .collect();
    if nodes.len() <= COLOURS.len() {
        return nodes.into_iter().map(|(name, _)| name).collect();
    }
    nodes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let half = COLOURS.len() / 2;
    let emptiest = nodes.split_off(nodes.len() - half);
    nodes.truncate(half);
    nodes.extend(emptiest);
    nodes.into_iter().map(|(name, _)| name).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A tick step for `span` that gives about `target` ticks: 1, 2 or 5 times a power of ten.
fn step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(1.0);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(raw)
}

/// The chart.
pub fn chart(report: &Report) -> String {
    let mut svg = String::new();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let end = report.cluster_seconds.max(1) as f64;
    let max_pods = report
        .timeline
        .iter()
        .flat_map(|s| s.pods.values().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let y_top = (max_pods / 5.0).ceil() * 5.0;
    let x = |t: f64| LEFT + t / end * plot_w;
    let y = |pods: f64| TOP + plot_h - pods / y_top * plot_h;
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{} — pods per node over cluster time (seed {})</text>"#,
        escape(&report.scenario),
        report.seed
    );
    // Axes, grid and ticks.
    let y_step = step(y_top, 6.0);
    let mut tick = 0.0;
    while tick <= y_top + 0.01 {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{x2:.1}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end">{tick}</text>"##,
            py = y(tick),
            x2 = LEFT + plot_w,
            tx = LEFT - 8.0,
            ty = y(tick) + 4.0,
        );
        tick += y_step;
    }
    let minutes = end / 60.0;
    let x_step = step(minutes, 8.0) * 60.0;
    let mut tick = 0.0;
    while tick <= end + 0.01 {
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{y1:.1}" x2="{px:.1}" y2="{y2:.1}" stroke="#333"/><text x="{px:.1}" y="{ty:.1}" text-anchor="middle">{label}</text>"##,
            px = x(tick),
            y1 = TOP + plot_h,
            y2 = TOP + plot_h + 5.0,
            ty = TOP + plot_h + 20.0,
            label = clock(tick as u64),
        );
        tick += x_step;
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b:.1}" stroke="#333"/><line x1="{LEFT}" y1="{b:.1}" x2="{r:.1}" y2="{b:.1}" stroke="#333"/>"##,
        b = TOP + plot_h,
        r = LEFT + plot_w
    );
    let _ = writeln!(
        svg,
        r#"<text x="{cx:.1}" y="{ty:.1}" text-anchor="middle">cluster time</text><text x="16" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 16 {cy:.1})">pods on the node</text>"#,
        cx = LEFT + plot_w / 2.0,
        ty = HEIGHT - 18.0,
        cy = TOP + plot_h / 2.0
    );
    // Scenario events.
    for (i, mark) in report.events.iter().filter(|m| m.scenario).enumerate() {
        let px = x(mark.t as f64);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{b:.1}" stroke="#888" stroke-dasharray="5,4"/><text x="{tx:.1}" y="{ty:.1}" fill="#555">{label}</text>"##,
            b = TOP + plot_h,
            tx = px + 4.0,
            ty = TOP + 14.0 + 14.0 * (i % 3) as f64,
            label = escape(&mark.description),
        );
    }
    let named = named_nodes(report);
    let others: Vec<&str> = report
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| !named.contains(n))
        .collect();
    let legend = |svg: &mut String, row: usize, colour: &str, width: f64, label: &str| {
        let ly = TOP + 10.0 + 20.0 * row as f64;
        let lx = LEFT + plot_w + 20.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{x2:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="{width}"/><text x="{tx:.1}" y="{ty:.1}">{}</text>"#,
            escape(label),
            x2 = lx + 24.0,
            tx = lx + 30.0,
            ty = ly + 4.0,
        );
    };
    // The other nodes as one band from their fewest to their most pods at each moment.
    if !others.is_empty() {
        let range = |sample: &super::Sample| {
            let counts = others
                .iter()
                .map(|n| f64::from(sample.pods.get(*n).copied().unwrap_or(0)));
            counts.fold((f64::MAX, 0.0_f64), |(low, high), c| {
                (low.min(c), high.max(c))
            })
        };
        let ranges: Vec<(f64, (f64, f64))> = report
            .timeline
            .iter()
            .map(|sample| (x(sample.t as f64), range(sample)))
            .collect();
        let mut points = String::new();
        for (i, (px, (_, high))) in ranges.iter().enumerate() {
            if let Some((_, (_, previous))) = i.checked_sub(1).map(|j| ranges[j]) {
                let _ = write!(points, "{px:.1},{:.1} ", y(previous));
            }
            let _ = write!(points, "{px:.1},{:.1} ", y(*high));
        }
        for (i, (px, (low, _))) in ranges.iter().enumerate().rev() {
            let _ = write!(points, "{px:.1},{:.1} ", y(*low));
            if let Some((_, (previous, _))) = i.checked_sub(1).map(|j| ranges[j]) {
                let _ = write!(points, "{px:.1},{:.1} ", y(previous));
            }
        }
        let _ = writeln!(
            svg,
            r#"<polygon fill="{BAND}" fill-opacity="0.6" stroke="{BAND}" points="{}"/>"#,
            points.trim_end()
        );
        legend(
            &mut svg,
            named.len(),
            BAND,
            10.0,
            &format!("{} other nodes (fewest to most)", others.len()),
        );
    }
    // One step line per named node at its exact count. Lines drawn first are wider, so a node
    // whose count equals another's still shows as a stripe around it.
    for (i, node) in named.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let width = 2.0 + 1.5 * (named.len() - 1 - i) as f64;
        let mut points = String::new();
        let mut last: Option<f64> = None;
        for sample in &report.timeline {
            let pods = f64::from(sample.pods.get(*node).copied().unwrap_or(0));
            let px = x(sample.t as f64);
            if let Some(previous) = last {
                let _ = write!(points, "{px:.1},{:.1} ", y(previous));
            }
            let _ = write!(points, "{px:.1},{:.1} ", y(pods));
            last = Some(pods);
        }
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="{width}" points="{}"/>"#,
            points.trim_end()
        );
        legend(&mut svg, i, colour, 3.0, node);
    }
    svg.push_str("</svg>\n");
    svg
}
