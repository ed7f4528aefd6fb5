//! Server-side SVG charts of an [`SlaReport`], as plain strings: no scripts,
//! no external resources, every text escaped. Each series is a `<g
//! class="series" data-series="…">` whose points (`<circle>` for lines,
//! `<rect>` for bars) carry `data-x` and `data-value`, so the charts can be
//! checked by parsing them, and read by assistive tools (`<title>` inside).

use std::fmt::Write as _;

use super::{AGE_BUCKETS, SlaReport};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 140.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;
/// Colour-blind-safe palette (Okabe–Ito).
const COLOURS: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

/// Escapes text for SVG/XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A series of a chart: name and one value per x label (`None`: no point).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" role=\"img\" aria-label=\"{t}\" font-family=\"sans-serif\" font-size=\"11\">\
         <title>{t}</title><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\
         <text x=\"{LEFT}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{t}</text>",
        t = escape(title)
    );
}

/// Y axis with gridlines from 0 to `max`, x labels (thinned to fit).
fn axes(out: &mut String, labels: &[String], max: f64, unit: &str, x_of: &dyn Fn(usize) -> f64) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#dddddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}{}</text>",
            WIDTH - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            format_number(v),
            escape(unit)
        );
    }
    let step = (labels.len() / 12).max(1);
    for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % step == 0) {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x_of(i),
            HEIGHT - BOTTOM + 16.0,
            escape(label)
        );
    }
}

fn legend(out: &mut String, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        let y = TOP + 14.0 * i as f64;
        let x = WIDTH - RIGHT + 10.0;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y,
            COLOURS[i % COLOURS.len()],
            x + 14.0,
            y + 9.0,
            escape(name)
        );
    }
}

fn format_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { format!("{v:.1}") }
}

fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * magnitude >= max {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

/// A line chart; `fixed_max` for percentages (100), else a nice maximum.
pub fn line_chart(title: &str, labels: &[String], series: &[Series], fixed_max: Option<f64>, unit: &str) -> String {
    let max = fixed_max.unwrap_or_else(|| {
        nice_max(series.iter().flat_map(|s| s.values.iter().flatten().copied()).fold(0.0, f64::max))
    });
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = labels.len().max(1);
    let x_of = |i: usize| if n == 1 { LEFT + plot_w / 2.0 } else { LEFT + plot_w * i as f64 / (n - 1) as f64 };
    let y_of = |v: f64| TOP + plot_h - plot_h * (v / max).clamp(0.0, 1.0);
    let mut out = String::new();
    open(&mut out, title);
    axes(&mut out, labels, max, unit, &x_of);
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let _ = write!(out, "<g class=\"series\" data-series=\"{}\">", escape(&s.name));
        // One polyline per run of defined points.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |run: &mut Vec<(f64, f64)>, out: &mut String| {
            if run.len() > 1 {
                let points: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                    points.join(" ")
                );
            }
            run.clear();
        };
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => run.push((x_of(i), y_of(*v))),
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
        for (i, v) in s.values.iter().enumerate() {
            if let Some(v) = v {
                let label = labels.get(i).map_or("", String::as_str);
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\" data-x=\"{}\" data-value=\"{}\">\
                     <title>{}: {} {}{}</title></circle>",
                    x_of(i),
                    y_of(*v),
                    escape(label),
                    v,
                    escape(&s.name),
                    escape(label),
                    format_number(*v),
                    escape(unit)
                );
            }
        }
        out.push_str("</g>");
    }
    legend(&mut out, &series.iter().map(|s| s.name.clone()).collect::<Vec<_>>());
    out.push_str("</svg>");
    out
}

/// A grouped bar chart: one group per label, one bar per series.
pub fn bar_chart(title: &str, labels: &[String], series: &[Series], unit: &str) -> String {
    let max = nice_max(series.iter().flat_map(|s| s.values.iter().flatten().copied()).fold(0.0, f64::max));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = labels.len().max(1);
    let slot = plot_w / n as f64;
    let bar = (slot * 0.8) / series.len().max(1) as f64;
    let x_of = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let mut out = String::new();
    open(&mut out, title);
    axes(&mut out, labels, max, unit, &x_of);
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let _ = write!(out, "<g class=\"series\" data-series=\"{}\">", escape(&s.name));
        for (i, v) in s.values.iter().enumerate() {
            let v = v.unwrap_or(0.0);
            let h = plot_h * (v / max).clamp(0.0, 1.0);
            let x = LEFT + slot * i as f64 + slot * 0.1 + bar * k as f64;
            let label = labels.get(i).map_or("", String::as_str);
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{colour}\" \
                 data-x=\"{}\" data-value=\"{}\"><title>{}: {} {}</title></rect>",
                TOP + plot_h - h,
                escape(label),
                v,
                escape(&s.name),
                escape(label),
                format_number(v)
            );
        }
        out.push_str("</g>");
    }
    legend(&mut out, &series.iter().map(|s| s.name.clone()).collect::<Vec<_>>());
    out.push_str("</svg>");
    out
}

fn week_labels(report: &SlaReport) -> Vec<String> {
    let mut weeks: Vec<String> = report.weeks.iter().map(|w| w.week.to_string()).collect();
    weeks.dedup();
    weeks
}

fn tiers(report: &SlaReport) -> Vec<String> {
    let mut tiers: Vec<String> = report.weeks.iter().map(|w| w.tier.clone()).collect();
    tiers.sort();
    tiers.dedup();
    tiers
}

/// Which compliance to chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceMetric {
    FirstResponse,
    Resolution,
}

/// Compliance (% met) per week, one line per tier.
pub fn compliance_over_weeks(report: &SlaReport, metric: ComplianceMetric) -> String {
    let labels = week_labels(report);
    let series: Vec<Series> = tiers(report)
        .into_iter()
        .map(|tier| Series {
            values: labels
                .iter()
                .map(|week| {
                    report.weeks.iter().find(|w| w.tier == tier && w.week.to_string() == *week).and_then(|w| {
                        match metric {
                            ComplianceMetric::FirstResponse => w.first_response_percent(),
                            ComplianceMetric::Resolution => w.resolution_percent(),
                        }
                    })
                })
                .collect(),
            name: tier,
        })
        .collect();
    let title = match metric {
        ComplianceMetric::FirstResponse => "First-response compliance per week (% met)",
        ComplianceMetric::Resolution => "Resolution compliance per week (% met)",
    };
    line_chart(title, &labels, &series, Some(100.0), " %")
}

/// New and solved tickets per week, a line per tier and kind.
pub fn weekly_volume(report: &SlaReport) -> String {
    let labels = week_labels(report);
    let mut series = Vec::new();
    for tier in tiers(report) {
        for (kind, pick) in [("new", true), ("solved", false)] {
            series.push(Series {
                name: format!("{tier} {kind}"),
                values: labels
                    .iter()
                    .map(|week| {
                        report
                            .weeks
                            .iter()
                            .find(|w| w.tier == tier && w.week.to_string() == *week)
                            .map(|w| if pick { w.new as f64 } else { w.solved as f64 })
                    })
                    .collect(),
            });
        }
    }
    line_chart("Tickets opened and solved per week", &labels, &series, None, "")
}

/// Open tickets by age bucket, a bar per tier.
pub fn backlog_ageing(report: &SlaReport) -> String {
    let labels: Vec<String> = AGE_BUCKETS.iter().map(|(n, _)| (*n).to_string()).collect();
    let series: Vec<Series> = report
        .backlog
        .iter()
        .map(|b| Series { name: b.tier.clone(), values: b.by_age.iter().map(|v| Some(*v as f64)).collect() })
        .collect();
    bar_chart("Open tickets by age", &labels, &series, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">T&C's</a>"), "&lt;a href=&quot;x&quot;&gt;T&amp;C&#39;s&lt;/a&gt;");
    }

    #[test]
    fn nice_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(2400.0), 2500.0);
    }
}
