//! Business-calendar arithmetic: `add` and `elapsed` on a business-hours
//! calendar with holidays and on a 24x7 calendar, over spans of hours, days
//! and a year. Throughput is reported in operations per second.
//!
//! Run: `cargo bench --bench calendar`.

// A benchmark set-up may panic on a broken fixture.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tusk::sla::calendar::{Calendar, CalendarConfig};

/// A French office: a lunch break on Mondays, shorter Fridays, and the
/// public holidays of 2026 and 2027.
const BUSINESS: &str = r#"
timezone = "Europe/Paris"
hours = { mon = ["09:00-12:30", "13:30-18:00"], tue = ["09:00-18:00"], wed = ["09:00-18:00"], thu = ["09:00-18:00"], fri = ["09:00-17:00"] }
holidays = [
    "2026-01-01", "2026-04-06", "2026-05-01", "2026-05-08", "2026-05-14", "2026-05-25",
    "2026-07-14", "2026-08-15", "2026-11-01", "2026-11-11", "2026-12-24..2026-12-26",
    "2027-01-01", "2027-03-29", "2027-05-01", "2027-05-06", "2027-05-08", "2027-05-17",
    "2027-07-14", "2027-08-15", "2027-11-01", "2027-11-11", "2027-12-24..2027-12-26",
]
"#;

fn compile(text: &str) -> Calendar {
    toml::from_str::<CalendarConfig>(text)
        .expect("benchmark calendar parses")
        .compile()
        .expect("benchmark calendar compiles")
}

/// 1,024 start instants spread over 2026 at odd minutes (a fixed sequence,
/// so runs are comparable).
fn starts() -> Vec<DateTime<Utc>> {
    let base = DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01 is in range");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..1024)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let minute = i64::try_from((state >> 33) % (365 * 24 * 60)).unwrap_or(0);
            base + Duration::minutes(minute)
        })
        .collect()
}

fn bench_calendar(c: &mut Criterion) {
    let calendars = [("business", compile(BUSINESS)), ("24x7", Calendar::always_open())];
    // (label, business duration for `add`, real span for `elapsed`)
    let spans = [
        ("hours", Duration::hours(3), Duration::hours(3)),
        ("days", Duration::hours(27), Duration::days(3)),
        ("year", Duration::hours(2_000), Duration::days(365)),
    ];
    let starts = starts();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(1));
    for (name, calendar) in &calendars {
        for (label, business, real) in spans {
            let mut i = 0;
            group.bench_function(format!("add/{name}/{label}"), |b| {
                b.iter(|| {
                    i = (i + 1) % starts.len();
                    calendar.add(black_box(starts[i]), black_box(business))
                })
            });
            let mut i = 0;
            group.bench_function(format!("elapsed/{name}/{label}"), |b| {
                b.iter(|| {
                    i = (i + 1) % starts.len();
                    let from = starts[i];
                    calendar.elapsed(black_box(from), black_box(from + real))
                })
            });
        }
    }
    group.finish();
    c.bench_function("calendar/compile/business", |b| b.iter(|| compile(black_box(BUSINESS))));
}

criterion_group!(benches, bench_calendar);
criterion_main!(benches);
