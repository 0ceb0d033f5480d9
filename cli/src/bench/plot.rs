//! `bench --plot FILE.svg`: the speedups of a bench run as an SVG bar chart.
//!
//! One group per case, one horizontal bar per compiled mode, growing from a dashed reference
//! line at 1.0x (as fast as the interpreter) to the speedup (interp median / mode median): to
//! the right when the mode is faster, to the left when slower. A whisker over each bar spans
//! the speedup's range from the quartiles ([`Speedup::low`] .. [`Speedup::high`]), so a bar
//! whose whisker crosses the 1.0x line is one the run could not tell from the interpreter.
//! The axis is logarithmic: 2x faster and 2x slower are the same distance from 1.0x, and a
//! 50x case does not flatten a 1.3x one. The legend gives each mode's geometric mean.
//!
//! Bars run horizontally so that case names (file stems of real fixtures are long) read
//! without rotation. The SVG is written as text: it is a few dozen kinds of element, and a
//! plotting crate would bring a font stack and a rasteriser the command does not need.

use super::{Row, Speedup};
use crate::exec::Mode;

/// Width of the whole chart, in pixels.
const WIDTH: f64 = 960.0;
/// Height of one bar.
const BAR: f64 = 16.0;
/// Space between the bars of one case.
const BAR_GAP: f64 = 3.0;
/// Space between two cases.
const GROUP_GAP: f64 = 12.0;
/// Where the plot area starts, below the title, subtitle and legend.
const PLOT_TOP: f64 = 92.0;
/// Room right of the plot area for the value printed after the longest bar.
const RIGHT_MARGIN: f64 = 72.0;
/// Width of one character of a case name (12 px monospace), to size the label column.
const CHAR_WIDTH: f64 = 7.3;
/// Case names longer than this are shortened with `…` (the full name is in the tooltip).
const MAX_LABEL_CHARS: usize = 48;

/// The colour of a mode's bars (Okabe–Ito, told apart with any colour vision).
fn colour(mode: Mode) -> &'static str {
    match mode {
        Mode::Interp => "#999999",
        Mode::Jit => "#0072B2",
        Mode::Runtime => "#E69F00",
        Mode::Aot => "#009E73",
    }
}

/// `text` with the five characters that are special in XML replaced by entities, so that any
/// case name (fixture names are file stems and test names: anything) yields a valid document.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A speedup as a label: `12x`, `1.5x`, `0.25x` (at most three decimals, no trailing zeros).
fn times(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}x")
}

/// The compiled modes that have a speedup in at least one row, in the order measured.
fn plotted_modes(rows: &[Row]) -> Vec<Mode> {
    let mut modes = Vec::new();
    for row in rows {
        for m in &row.measurements {
            if m.mode != Mode::Interp && !modes.contains(&m.mode) && row.speedup(m.mode).is_some() {
                modes.push(m.mode);
            }
        }
    }
    modes
}

/// A finite, positive value (a ratio from a zero time would be 0 or infinite).
fn plottable(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

/// The logarithmic axis from `lo` to `hi` onto pixels `left..right`.
struct LogAxis {
    lo: f64,
    hi: f64,
    left: f64,
    right: f64,
}

impl LogAxis {
    /// An axis spanning every value given and 1.0, with a margin either side.
    fn spanning(values: impl Iterator<Item = f64>, left: f64, right: f64) -> Self {
        let (mut lo, mut hi) = (1.0f64, 1.0f64);
        for v in values.filter(|&v| plottable(v)) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        Self { lo: lo / 1.25, hi: hi * 1.25, left, right }
    }

    /// The pixel of `value`, clamped to the axis.
    fn x(&self, value: f64) -> f64 {
        let value = value.clamp(self.lo, self.hi);
        let span = (self.hi / self.lo).log10();
        self.left + (value / self.lo).log10() / span * (self.right - self.left)
    }

    /// Tick values: 1, 2, 5 times the powers of ten within the axis, or a finer sequence when
    /// that would give fewer than three ticks (an axis within one decade).
    fn ticks(&self) -> Vec<f64> {
        let decades = self.lo.log10().floor() as i32..=self.hi.log10().ceil() as i32;
        let within = |mantissas: &[f64]| -> Vec<f64> {
            decades
                .clone()
                .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
                .filter(|&v| v >= self.lo && v <= self.hi)
                .collect()
        };
        let coarse = within(&[1.0, 2.0, 5.0]);
        if coarse.len() >= 3 { coarse } else { within(&[1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0]) }
    }
}

/// The chart of `rows`' speedups over `interp`, as a complete SVG document. Rows without an
/// `interp` measurement have no speedup and show as a labelled empty group.
pub fn speedup_svg(rows: &[Row]) -> String {
    let modes = plotted_modes(rows);
    let longest = rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).min(MAX_LABEL_CHARS);
    let label_width = (longest as f64 * CHAR_WIDTH + 16.0).clamp(80.0, MAX_LABEL_CHARS as f64 * CHAR_WIDTH + 16.0);
    let speedups = || rows.iter().flat_map(|r| modes.iter().filter_map(|&m| r.speedup(m)));
    let axis = LogAxis::spanning(
        speedups().flat_map(|s: Speedup| [s.ratio, s.low, s.high]),
        label_width,
        WIDTH - RIGHT_MARGIN,
    );
    let bars = modes.len().max(1) as f64;
    let group_height = bars * BAR + (bars - 1.0) * BAR_GAP;
    let plot_bottom = PLOT_TOP + rows.len() as f64 * (group_height + GROUP_GAP);
    let height = plot_bottom + 56.0;

    let mut svg = String::new();
    let mut w = |text: String| svg.push_str(&text);
    w(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n"
    ));
    w(format!("<rect width=\"{WIDTH}\" height=\"{height}\" fill=\"white\"/>\n"));
    w("<text x=\"12\" y=\"24\" font-size=\"16\" font-weight=\"bold\">revm-jit bench: speedup over the interpreter</text>\n"
        .to_owned());
    w("<text x=\"12\" y=\"44\" fill=\"#444\">bar: interp median time / mode median time; whisker: range from the \
       quartiles (interp q1 / mode q3 .. interp q3 / mode q1)</text>\n"
        .to_owned());

    // Legend: a swatch and each mode's geometric mean.
    let mut x = 12.0;
    for &mode in &modes {
        let ratios: Vec<f64> =
            rows.iter().filter_map(|r| r.speedup(mode)).map(|s| s.ratio).filter(|&r| plottable(r)).collect();
        let geomean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len().max(1) as f64).exp();
        let label = format!("{mode} (geometric mean {geomean:.2}x)");
        w(format!(
            "<g class=\"legend\"><rect x=\"{x}\" y=\"56\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"66\">{}</text></g>\n",
            colour(mode),
            x + 17.0,
            escape(&label)
        ));
        x += 17.0 + label.chars().count() as f64 * 6.8 + 24.0;
    }
    if modes.is_empty() {
        w("<text x=\"12\" y=\"66\" fill=\"#a00\">no speedup to plot: measure interp and at least one other mode</text>\n"
            .to_owned());
    }

    // Case backgrounds and names.
    for (i, row) in rows.iter().enumerate() {
        let top = PLOT_TOP + i as f64 * (group_height + GROUP_GAP);
        if i.is_multiple_of(2) {
            w(format!(
                "<rect x=\"0\" y=\"{}\" width=\"{WIDTH}\" height=\"{}\" fill=\"#f3f3f3\"/>\n",
                top - GROUP_GAP / 2.0,
                group_height + GROUP_GAP
            ));
        }
        let shown: String = if row.name.chars().count() > MAX_LABEL_CHARS {
            row.name.chars().take(MAX_LABEL_CHARS - 1).chain(['…']).collect()
        } else {
            row.name.clone()
        };
        w(format!(
            "<text class=\"case\" x=\"{}\" y=\"{}\" text-anchor=\"end\" font-family=\"monospace\">{}<title>{}</title></text>\n",
            label_width - 8.0,
            top + group_height / 2.0 + 4.0,
            escape(&shown),
            escape(&row.name)
        ));
    }

    // Grid and tick labels.
    for tick in axis.ticks() {
        let tx = axis.x(tick);
        w(format!(
            "<line x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{plot_bottom}\" stroke=\"#ccc\" stroke-width=\"1\"/>\n",
            PLOT_TOP - GROUP_GAP / 2.0
        ));
        w(format!(
            "<text x=\"{tx:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333\">{}</text>\n",
            plot_bottom + 16.0,
            times(tick)
        ));
    }
    w(format!(
        "<line x1=\"{}\" y1=\"{plot_bottom}\" x2=\"{}\" y2=\"{plot_bottom}\" stroke=\"#333\"/>\n",
        axis.left, axis.right
    ));
    w(format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">speedup over interp (interp time / mode time), log scale</text>\n",
        (axis.left + axis.right) / 2.0,
        plot_bottom + 38.0
    ));

    // Bars, whiskers and values.
    let one = axis.x(1.0);
    for (i, row) in rows.iter().enumerate() {
        let top = PLOT_TOP + i as f64 * (group_height + GROUP_GAP);
        for (j, &mode) in modes.iter().enumerate() {
            let Some(s) = row.speedup(mode).filter(|s| plottable(s.ratio)) else { continue };
            let y = top + j as f64 * (BAR + BAR_GAP);
            let end = axis.x(s.ratio);
            let (left, width) = (one.min(end), (end - one).abs().max(1.0));
            let mark = if s.indistinct() { "~" } else { "" };
            w(format!(
                "<rect class=\"bar\" x=\"{left:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{BAR}\" fill=\"{}\">\
                 <title>{} — {mode}: {mark}{:.2}x (range {:.2}–{:.2})</title></rect>\n",
                colour(mode),
                escape(&row.name),
                s.ratio,
                s.low,
                s.high
            ));
            let mid = y + BAR / 2.0;
            let mut right = end.max(one);
            if plottable(s.low) && plottable(s.high) {
                let (lx, hx) = (axis.x(s.low), axis.x(s.high));
                w(format!(
                    "<path class=\"whisker\" d=\"M{lx:.1} {mid:.1}H{hx:.1}M{lx:.1} {:.1}V{:.1}M{hx:.1} {:.1}V{:.1}\" \
                     stroke=\"#222\" stroke-width=\"1.2\" fill=\"none\"/>\n",
                    mid - 4.0,
                    mid + 4.0,
                    mid - 4.0,
                    mid + 4.0
                ));
                right = right.max(hx);
            }
            w(format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#222\">{mark}{:.2}x</text>\n",
                right + 5.0,
                mid + 4.0,
                s.ratio
            ));
        }
    }

    // The reference line last, over the bars.
    w(format!(
        "<line class=\"ref\" x1=\"{one:.1}\" y1=\"{}\" x2=\"{one:.1}\" y2=\"{plot_bottom}\" stroke=\"#c00\" \
         stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>\n",
        PLOT_TOP - GROUP_GAP / 2.0 - 8.0
    ));
    w(format!(
        "<text x=\"{:.1}\" y=\"{}\" fill=\"#c00\">1.0x = interp</text>\n",
        one + 4.0,
        PLOT_TOP - GROUP_GAP / 2.0 - 4.0
    ));
    w("</svg>\n".to_owned());
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Measurement;

    /// A measurement whose quartiles lie 10% either side of `median_ns`.
    fn measurement(mode: Mode, median_ns: u64) -> Measurement {
        crate::bench::tests::measurement(mode, median_ns * 9 / 10, median_ns, median_ns * 11 / 10)
    }

    fn row(name: &str, times: &[(Mode, u64)]) -> Row {
        let measurements: Vec<Measurement> = times.iter().map(|&(mode, ns)| measurement(mode, ns)).collect();
        Row { name: name.to_owned(), outcome: measurements[0].outcome.clone(), measurements }
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn one_bar_per_case_and_compiled_mode() {
        let rows = [
            row("fast", &[(Mode::Interp, 10_000), (Mode::Jit, 1_000), (Mode::Aot, 1_200)]),
            row("slow", &[(Mode::Interp, 1_000), (Mode::Jit, 2_000), (Mode::Aot, 900)]),
            row("same", &[(Mode::Interp, 1_000), (Mode::Jit, 1_000), (Mode::Aot, 1_000)]),
        ];
        let svg = speedup_svg(&rows);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(count(&svg, "class=\"bar\""), 6, "{svg}");
        assert_eq!(count(&svg, "class=\"whisker\""), 6);
        assert_eq!(count(&svg, "class=\"case\""), 3);
        assert_eq!(count(&svg, "class=\"legend\""), 2, "interp has no bar, so no legend entry");
        assert!(svg.contains("10.00x") && svg.contains("0.50x") && svg.contains("~1.00x"), "{svg}");
        assert!(svg.contains("log scale"));
        // Every element opened is closed.
        assert_eq!((count(&svg, "<svg"), count(&svg, "</svg>")), (1, 1));
        assert_eq!(count(&svg, "<text"), count(&svg, "</text>"));
        assert_eq!(count(&svg, "<title>"), count(&svg, "</title>"));
    }

    #[test]
    fn a_reference_line_at_one() {
        let rows = [
            row("a", &[(Mode::Interp, 4_000), (Mode::Jit, 1_000)]),
            row("b", &[(Mode::Interp, 500), (Mode::Jit, 1_000)]),
        ];
        let svg = speedup_svg(&rows);
        assert_eq!(count(&svg, "class=\"ref\""), 1);
        let line = svg.lines().find(|l| l.contains("class=\"ref\"")).unwrap();
        // The line sits where a speedup of 1 would end: between the bar going left (b, 0.5x)
        // and the bar going right (a, 4x), which both start on it.
        let x1 = attribute(line, "x1");
        let bars: Vec<&str> = svg.lines().filter(|l| l.contains("class=\"bar\"")).collect();
        let (a, b) = (bars[0], bars[1]);
        assert!((attribute(a, "x") - x1).abs() < 0.11, "{a}\n{line}");
        assert!((attribute(b, "x") + attribute(b, "width") - x1).abs() < 0.11, "{b}\n{line}");
        assert!(svg.contains(">1x<"), "a tick labelled 1x: {svg}");
    }

    fn attribute(element: &str, name: &str) -> f64 {
        let start =
            element.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} in {element}")) + name.len() + 3;
        let len = element[start..].find('"').unwrap();
        element[start..start + len].parse().unwrap()
    }

    #[test]
    fn names_are_escaped() {
        let name = "<script>alert('x & \"y\"')</script>";
        let svg = speedup_svg(&[row(name, &[(Mode::Interp, 2_000), (Mode::Jit, 1_000)])]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(!svg.contains("'x"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(&apos;x &amp; &quot;y&quot;&apos;)&lt;/script&gt;"), "{svg}");
        assert_eq!(escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
    }

    #[test]
    fn long_names_are_shortened_but_kept_in_the_tooltip() {
        let name = "x".repeat(100);
        let svg = speedup_svg(&[row(&name, &[(Mode::Interp, 2_000), (Mode::Runtime, 1_000)])]);
        assert!(svg.contains(&format!(">{}…<title>{name}</title>", "x".repeat(MAX_LABEL_CHARS - 1))), "{svg}");
    }

    #[test]
    fn without_interp_there_is_nothing_to_plot() {
        let svg = speedup_svg(&[row("a", &[(Mode::Jit, 1_000)])]);
        assert_eq!(count(&svg, "class=\"bar\""), 0);
        assert!(svg.contains("no speedup to plot"));
    }

    #[test]
    fn ticks_and_labels() {
        let wide = LogAxis { lo: 0.4, hi: 60.0, left: 0.0, right: 100.0 };
        assert_eq!(wide.ticks(), [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        let narrow = LogAxis { lo: 0.85, hi: 1.9, left: 0.0, right: 100.0 };
        assert_eq!(narrow.ticks(), [1.0, 1.2, 1.5]);
        assert_eq!(narrow.x(0.8), 0.0);
        assert_eq!(narrow.x(100.0), 100.0);
        assert_eq!(times(1.0), "1x");
        assert_eq!(times(0.25), "0.25x");
        assert_eq!(times(1.5), "1.5x");
        assert_eq!(times(20.0), "20x");
    }
}
