//! The report as aligned text tables for the terminal (`--format table`).

use std::fmt::Write as _;

use super::{AGE_BUCKETS, GroupRow, SlaReport, human_pct, human_secs};

/// Left-aligned first column, right-aligned others.
fn render(header: &[String], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate().take(cols) {
            let pad = widths[i].saturating_sub(c.chars().count());
            if i > 0 {
                out.push_str("  ");
            }
            if i == 0 {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    out.push_str(&line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>()));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn group_line(g: &GroupRow) -> Vec<String> {
    let fr = &g.first_response;
    let res = &g.resolution;
    vec![
        g.label.clone(),
        g.tickets.to_string(),
        format!("{}/{}", fr.met, fr.breached),
        human_pct(fr.percent_met),
        human_secs(fr.median_secs),
        human_secs(fr.p90_secs),
        format!("{}/{}", res.met, res.breached),
        human_pct(res.percent_met),
        human_secs(res.median_secs),
        human_secs(res.p90_secs),
    ]
}

/// Every section as text.
pub fn render_report(report: &SlaReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SLA report {} .. {} (UTC), tickets opened in the range, by {}; as of {}\n",
        report.from.format("%Y-%m-%d %H:%M"),
        report.to.format("%Y-%m-%d %H:%M"),
        report.group_by,
        report.as_of.format("%Y-%m-%d %H:%M"),
    );
    let header = strings(&[
        report.group_by.as_str(),
        "tickets",
        "1st met/br",
        "1st %",
        "1st median",
        "1st p90",
        "res met/br",
        "res %",
        "res median",
        "res p90",
    ]);
    let mut rows: Vec<Vec<String>> = report.groups.iter().map(group_line).collect();
    rows.push(group_line(&report.total));
    out.push_str(&render(&header, &rows));

    let _ = writeln!(out, "\nBreaches: {} (showing {})", report.breaches_total, report.breaches.len());
    let rows: Vec<Vec<String>> = report
        .breaches
        .iter()
        .take(20)
        .map(|b| {
            vec![
                format!("#{}", b.number),
                b.metric.as_str().to_string(),
                b.tier.clone(),
                b.priority.clone(),
                b.due_at.map(|d| d.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default(),
                human_secs(b.business_secs),
                b.link.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push_str(&render(&strings(&["ticket", "metric", "tier", "priority", "due (UTC)", "took", "link"]), &rows));
    }

    out.push_str("\nBacklog (open tickets by age)\n");
    let mut header = vec!["tier".to_string()];
    header.extend(AGE_BUCKETS.iter().map(|(n, _)| (*n).to_string()));
    header.push("total".into());
    let rows: Vec<Vec<String>> = report
        .backlog
        .iter()
        .map(|b| {
            let mut r = vec![b.tier.clone()];
            r.extend(b.by_age.iter().map(i64::to_string));
            r.push(b.total.to_string());
            r
        })
        .collect();
    out.push_str(&render(&header, &rows));

    out.push_str("\nWeekly volume and compliance\n");
    let rows: Vec<Vec<String>> = report
        .weeks
        .iter()
        .map(|w| {
            vec![
                w.week.to_string(),
                w.tier.clone(),
                w.new.to_string(),
                w.solved.to_string(),
                human_pct(w.first_response_percent()),
                human_pct(w.resolution_percent()),
            ]
        })
        .collect();
    out.push_str(&render(&strings(&["week", "tier", "new", "solved", "1st %", "res %"]), &rows));
    out
}
