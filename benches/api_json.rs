//! The body of `GET /api/v1/tickets`: a page of 50 tickets written by the
//! API's hand-written writer (`TicketPageOut::to_json`, what the handler
//! sends) and by `serde_json::to_vec` (what it sent before; the same bytes).
//!
//! Run: `cargo bench --bench api_json`.

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tusk::db::{Channel, Priority, TicketStatus};
use tusk::web::api::tickets::{TicketOut, TicketPageOut};

/// 50 tickets shaped like the seeded ones (about 31 KB of JSON).
fn page() -> TicketPageOut {
    let at: DateTime<Utc> = DateTime::from_timestamp(1_795_700_000, 991_086_000).unwrap_or_default();
    let tickets = (0..50i64)
        .map(|i| TicketOut {
            id: 99_968 - i,
            number: 100_968 - i,
            subject: format!("Certificate from our own authority, case {i}"),
            status: TicketStatus::Pending,
            priority: Priority::Normal,
            category: Some("technical".into()),
            channel: Channel::Email,
            needs_triage: i % 7 == 0,
            created_at: at - Duration::hours(i),
            updated_at: at - Duration::minutes(i),
            requester_id: 181,
            requester_name: Some("Julia Evans".into()),
            requester_email: "julia.evans@bellacourt-county.example".into(),
            institution_id: Some(19),
            institution_name: Some("Bellacourt County Council".into()),
            instance_id: (i % 2 == 0).then_some(31),
            instance_domain: (i % 2 == 0).then(|| "social.bellacourt.example".into()),
            instance_plan: (i % 2 == 0).then(|| "managed".into()),
            plan: Some("managed".into()),
            assignee_id: Some(5),
            assignee_name: Some("Samir Meyer".into()),
            tags: vec!["federation".into(), "tls".into()],
        })
        .collect();
    TicketPageOut { tickets, next_cursor: Some("3175642e313739353730333639353939313038362e3939363139".into()) }
}

fn bench(c: &mut Criterion) {
    let page = page();
    let mut group = c.benchmark_group("ticket page json");
    group.throughput(Throughput::Elements(1));
    group.bench_function("to_json", |b| b.iter(|| black_box(&page).to_json()));
    group.bench_function("serde_json::to_vec", |b| b.iter(|| serde_json::to_vec(black_box(&page))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
