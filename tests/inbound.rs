//! Inbound email: classification, dedupe, threading, linking, reopen,
//! quarantine, sender trust and backfill, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, count, plans};
use diesel::prelude::*;
use tusk::config::Config;
use tusk::db::schema::{inbound_messages, mail_outbox, tickets as tickets_t};
use tusk::db::{MessageKind, Role, TicketStatus};
use tusk::domain::instances::{self, InstanceInput};
use tusk::domain::institutions::{self, InstitutionInput};
use tusk::domain::intake::{IntakeSource, Outcome};
use tusk::domain::{Actor, agents, contacts, tickets};
use tusk::mail::intake::Intake;
use tusk::storage::BlobStore;

on_both_backends!(
    new_ticket_and_threading_by_headers,
    subject_tag_threading_needs_a_known_sender,
    dedupe_by_message_id_and_content,
    auto_replies_and_lists,
    bounces_attach_to_their_ticket,
    instance_linking_rules,
    reopen_and_follow_up,
    quarantine_and_replay,
    sender_trust,
    backfill_history,
);

fn config(db: &TestDb) -> Config {
    let mut c = Config::defaults().unwrap();
    c.data_dir = db.dir.path().to_path_buf();
    c.support.address = "support@tusk.example".into();
    c
}

fn intake_with(db: &TestDb, edit: impl FnOnce(&mut Config)) -> Intake {
    let mut c = config(db);
    edit(&mut c);
    Intake::new(&c, db.db.clone(), BlobStore::open(&c.data_dir).unwrap())
}

fn intake(db: &TestDb) -> Intake {
    intake_with(db, |_| {})
}

/// Lyon has two instances; Ghent has one.
fn setup(db: &TestDb) {
    let mut conn = db.conn();
    for (slug, name, domain, plan) in [
        ("uni-lyon", "Université de Lyon", "univ-lyon.example", "managed"),
        ("ghent", "City of Ghent", "ghent.example", "single"),
        ("ngo", "Open NGO", "ngo.example", "single"),
    ] {
        institutions::upsert(
            &mut conn,
            &plans(),
            &InstitutionInput {
                slug: slug.into(),
                name: name.into(),
                default_plan: Some(plan.into()),
                status: None,
                domains: Some(vec![domain.into()]),
            },
            Actor::System,
        )
        .unwrap();
    }
    for (domain, slug) in [
        ("social.univ-lyon.example", "uni-lyon"),
        ("research.univ-lyon.example", "uni-lyon"),
        ("mastodon.ghent.example", "ghent"),
    ] {
        instances::upsert(
            &mut conn,
            &plans(),
            &InstanceInput { domain: domain.into(), institution_slug: slug.into(), ..Default::default() },
            Actor::System,
        )
        .unwrap();
    }
}

struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

fn mail(from: &str, subject: &str, body: &str) -> Mail {
    Mail {
        headers: vec![
            ("From".into(), from.into()),
            ("To".into(), "Support <support@tusk.example>".into()),
            ("Subject".into(), subject.into()),
            ("Date".into(), "Thu, 26 Nov 2026 09:00:00 +0100".into()),
        ],
        body: body.into(),
    }
}

impl Mail {
    fn h(mut self, name: &str, value: &str) -> Mail {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }
    fn id(self, id: &str) -> Mail {
        self.h("Message-ID", &format!("<{id}>"))
    }
    fn raw(&self) -> Vec<u8> {
        let mut s = String::new();
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.push_str(&self.body.replace('\n', "\r\n"));
        s.into_bytes()
    }
}

fn receive(i: &Intake, m: &Mail) -> tusk::domain::intake::IntakeResult {
    i.receive(&m.raw(), IntakeSource::Http, None).unwrap()
}

fn acks_to(db: &TestDb, email: &str) -> Vec<String> {
    let mut conn = db.conn();
    mail_outbox::table
        .filter(mail_outbox::kind.eq("acknowledgement"))
        .filter(mail_outbox::recipients.eq(serde_json::to_string(&vec![email]).unwrap()))
        .select(mail_outbox::rfc_message_id)
        .load(&mut *conn)
        .unwrap()
}

fn new_ticket_and_threading_by_headers(db: &TestDb) {
    setup(db);
    let i = intake(db);
    let first = receive(
        &i,
        &mail(
            "Ada Lovelace <Ada@Univ-Lyon.example>",
            "Federation stopped",
            "Nothing reaches mastodon.social since Monday.",
        )
        .id("a1@univ-lyon.example"),
    );
    assert_eq!(first.outcome, Outcome::Created, "{:?}", first.trace);
    let mut conn = db.conn();
    let t = tickets::get(&mut conn, first.ticket_id.unwrap()).unwrap();
    assert_eq!(t.subject, "Federation stopped");
    let requester = contacts::get(&mut conn, t.requester_id).unwrap();
    assert_eq!(requester.email, "ada@univ-lyon.example");
    assert_eq!(requester.name.as_deref(), Some("Ada Lovelace"));
    assert!(t.institution_id.is_some());
    let acks = acks_to(db, "ada@univ-lyon.example");
    assert_eq!(acks.len(), 1, "one acknowledgement queued");

    // A reply to the customer's own message, and one to our acknowledgement.
    let r1 = receive(
        &i,
        &mail("ada@univ-lyon.example", "Re: Federation stopped", "More logs")
            .id("a2@univ-lyon.example")
            .h("In-Reply-To", "<a1@univ-lyon.example>"),
    );
    assert_eq!((r1.outcome, r1.ticket_id), (Outcome::Appended, first.ticket_id), "{:?}", r1.trace);
    let r2 = receive(
        &i,
        &mail("ada@univ-lyon.example", "Re: [Tusk] we got it", "Thanks")
            .id("a3@univ-lyon.example")
            .h("References", &format!("<unknown@elsewhere.example> <{}>", acks[0])),
    );
    assert_eq!((r2.outcome, r2.ticket_id), (Outcome::Appended, first.ticket_id), "{:?}", r2.trace);
    let msgs = tickets::messages_of(&mut conn, t.id).unwrap();
    assert_eq!(msgs.len(), 3);
    assert!(msgs.iter().all(|m| m.kind == MessageKind::Inbound && m.raw_blob.is_some()));
    assert_eq!(acks_to(db, "ada@univ-lyon.example").len(), 1, "no acknowledgement for replies");
    let receipt = tusk::domain::intake::get_receipt(&mut conn, r2.inbound_id).unwrap();
    assert!(receipt.trace.contains("matched ticket"), "{}", receipt.trace);
}

fn subject_tag_threading_needs_a_known_sender(db: &TestDb) {
    setup(db);
    let i = intake(db);
    let first = receive(
        &i,
        &mail("ada@univ-lyon.example", "Media storage full", "Our bucket is full").id("t1@univ-lyon.example"),
    );
    let number = first.ticket_number.unwrap();
    let tag = format!("Re: [#{number}] Media storage full");
    let own = receive(&i, &mail("ada@univ-lyon.example", &tag, "any news?").id("t2@univ-lyon.example"));
    assert_eq!((own.outcome, own.ticket_id), (Outcome::Appended, first.ticket_id), "{:?}", own.trace);
    let colleague = receive(&i, &mail("grace@univ-lyon.example", &tag, "same here").id("t3@univ-lyon.example"));
    assert_eq!((colleague.outcome, colleague.ticket_id), (Outcome::Appended, first.ticket_id));
    let stranger = receive(&i, &mail("mallory@evil.example", &tag, "let me in").id("t4@evil.example"));
    assert_eq!(stranger.outcome, Outcome::Created, "a tag alone must not let a stranger post");
    assert_ne!(stranger.ticket_id, first.ticket_id);
    assert!(stranger.trace.iter().any(|s| s.contains("ignored")), "{:?}", stranger.trace);
    let other_inst = receive(&i, &mail("jan@ghent.example", &tag, "hello").id("t5@ghent.example"));
    assert_ne!(other_inst.ticket_id, first.ticket_id);
}

fn dedupe_by_message_id_and_content(db: &TestDb) {
    setup(db);
    let i = intake(db);
    let m = mail("ada@univ-lyon.example", "Login broken", "SSO fails").id("d1@univ-lyon.example");
    let a = receive(&i, &m);
    let b = receive(&i, &m);
    assert_eq!(a.outcome, Outcome::Created);
    assert_eq!((b.outcome, b.ticket_id, b.message_id), (Outcome::Duplicate, a.ticket_id, a.message_id));
    // No Message-ID: the content decides.
    let no_id = mail("ada@univ-lyon.example", "No id", "same bytes");
    let c = receive(&i, &no_id);
    let d = receive(&i, &no_id);
    assert_eq!((c.outcome, d.outcome), (Outcome::Created, Outcome::Duplicate));
    let mut conn = db.conn();
    assert_eq!(count(&mut conn, "messages"), 2);
    assert_eq!(count(&mut conn, "inbound_messages"), 4, "every delivery keeps a receipt");
}

fn auto_replies_and_lists(db: &TestDb) {
    setup(db);
    let i = intake(db);
    let first = receive(&i, &mail("ada@univ-lyon.example", "Upgrade to 4.3", "please").id("u1@univ-lyon.example"));
    let ack = acks_to(db, "ada@univ-lyon.example").remove(0);
    let robots = [
        ("Auto-Submitted", "auto-replied"),
        ("X-Autoreply", "yes"),
        ("X-Autorespond", "vacation"),
        ("Precedence", "auto_reply"),
        ("Return-Path", "<>"),
    ];
    for (n, (header, value)) in robots.iter().enumerate() {
        let r = receive(
            &i,
            &mail("ada@univ-lyon.example", "Out of office", "I am away")
                .id(&format!("ooo{n}@univ-lyon.example"))
                .h("In-Reply-To", &format!("<{ack}>"))
                .h(header, value),
        );
        assert_eq!(r.outcome, Outcome::AutoReply, "{header}: {:?}", r.trace);
        assert_eq!(r.ticket_id, first.ticket_id, "{header}");
        assert!(r.message_id.is_none(), "{header}: not a ticket message");
    }
    let mut conn = db.conn();
    let t = tickets::get(&mut conn, first.ticket_id.unwrap()).unwrap();
    assert_eq!(tickets::messages_of(&mut conn, t.id).unwrap().len(), 1);
    let evs = tusk::domain::events::for_ticket(&mut conn, t.id).unwrap();
    assert_eq!(evs.iter().filter(|e| e.action == "mail.auto_reply").count(), robots.len());
    // Auto-Submitted: no is a person.
    let person = receive(&i, &mail("bob@ngo.example", "Question", "hi").id("p1@ngo.example").h("Auto-Submitted", "no"));
    assert_eq!(person.outcome, Outcome::Created);
    assert_eq!(acks_to(db, "bob@ngo.example").len(), 1);
    // List and bulk mail becomes a ticket, but is never acknowledged.
    for (n, (header, value)) in
        [("List-Id", "<staff.ngo.example>"), ("Precedence", "bulk"), ("X-Auto-Response-Suppress", "All")]
            .iter()
            .enumerate()
    {
        let r = receive(
            &i,
            &mail(&format!("list{n}@ngo.example"), "Digest", "hello").id(&format!("l{n}@ngo.example")).h(header, value),
        );
        assert_eq!(r.outcome, Outcome::Created, "{header}");
        assert!(acks_to(db, &format!("list{n}@ngo.example")).is_empty(), "{header}: no acknowledgement");
    }
}

fn dsn(original_id: &str, recipient: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.tusk.example>\r\n\
To: support@tusk.example\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <dsn-{original_id}>\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\
\r\n\
--BB\r\n\
Content-Type: text/plain\r\n\
\r\n\
Your message could not be delivered.\r\n\
--BB\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.tusk.example\r\n\
\r\n\
Final-Recipient: rfc822; {recipient}\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\
--BB\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
Message-ID: <{original_id}>\r\n\
Subject: We received your request\r\n\
--BB--\r\n"
    )
    .into_bytes()
}

fn bounces_attach_to_their_ticket(db: &TestDb) {
    setup(db);
    let i = intake(db);
    let first = receive(&i, &mail("gone@univ-lyon.example", "Help", "please").id("b1@univ-lyon.example"));
    let ack = acks_to(db, "gone@univ-lyon.example").remove(0);
    let mut conn = db.conn();
    let before = tickets::get(&mut conn, first.ticket_id.unwrap()).unwrap();
    let tickets_before = count(&mut conn, "tickets");
    let r = i.receive(&dsn(&ack, "gone@univ-lyon.example"), IntakeSource::Http, None).unwrap();
    assert_eq!((r.outcome, r.ticket_id), (Outcome::Bounce, first.ticket_id), "{:?}", r.trace);
    let after = tickets::get(&mut conn, before.id).unwrap();
    assert_eq!(after.status, before.status, "a bounce never reopens or changes a ticket");
    assert_eq!(count(&mut conn, "tickets"), tickets_before, "a bounce never opens a ticket");
    let evs = tusk::domain::events::for_ticket(&mut conn, before.id).unwrap();
    let bounce = evs.iter().find(|e| e.action == "mail.bounced").expect("bounce event");
    let data: serde_json::Value = serde_json::from_str(bounce.data.as_deref().unwrap()).unwrap();
    assert_eq!(data["recipient"], "gone@univ-lyon.example");
    assert_eq!(data["status"], "5.1.1");
    // A bounce about a message Tusk never sent is recorded only.
    let r = i.receive(&dsn("unknown@elsewhere.example", "x@y.example"), IntakeSource::Http, None).unwrap();
    assert_eq!((r.outcome, r.ticket_id), (Outcome::Bounce, None));
    assert!(acks_to(db, "mailer-daemon@mx.tusk.example").is_empty());
}

fn instance_linking_rules(db: &TestDb) {
    setup(db);
    let i = intake(db);
    let mut conn = db.conn();
    let domain_of = |conn: &mut tusk::db::AnyConnection, r: &tusk::domain::intake::IntakeResult| {
        let t = tickets::get(conn, r.ticket_id.unwrap()).unwrap();
        (t.instance_id.map(|id| instances::get(conn, id).unwrap().domain), t.needs_triage)
    };
    let plus = receive(
        &i,
        &mail("ada@univ-lyon.example", "Quota", "full")
            .id("i1@univ-lyon.example")
            .h("To", "support+research.univ-lyon.example@tusk.example"),
    );
    assert_eq!(domain_of(&mut conn, &plus), (Some("research.univ-lyon.example".into()), false), "{:?}", plus.trace);
    let mention = receive(
        &i,
        &mail("ada@univ-lyon.example", "Problem on social.univ-lyon.example", "see subject").id("i2@univ-lyon.example"),
    );
    assert_eq!(domain_of(&mut conn, &mention), (Some("social.univ-lyon.example".into()), false), "{:?}", mention.trace);
    let both = receive(
        &i,
        &mail("ada@univ-lyon.example", "Two sites", "social.univ-lyon.example and research.univ-lyon.example are slow")
            .id("i3@univ-lyon.example"),
    );
    assert_eq!(domain_of(&mut conn, &both), (None, true), "ambiguous: triage");
    let none =
        receive(&i, &mail("ada@univ-lyon.example", "Question", "how do I add an admin?").id("i4@univ-lyon.example"));
    assert_eq!(domain_of(&mut conn, &none), (None, true), "several instances, none named: triage");
    let only = receive(&i, &mail("jan@ghent.example", "Question", "how do I add an admin?").id("i5@ghent.example"));
    assert_eq!(domain_of(&mut conn, &only), (Some("mastodon.ghent.example".into()), false), "the only instance");
    let foreign = receive(
        &i,
        &mail("jan@ghent.example", "About social.univ-lyon.example", "hi")
            .id("i6@ghent.example")
            .h("To", "support+social.univ-lyon.example@tusk.example"),
    );
    assert_eq!(
        domain_of(&mut conn, &foreign),
        (Some("mastodon.ghent.example".into()), false),
        "another institution's instance is never linked"
    );
    let unknown =
        receive(&i, &mail("someone@gmail.example", "Hello", "social.univ-lyon.example is down").id("i7@gmail.example"));
    assert_eq!(domain_of(&mut conn, &unknown), (None, true), "unknown sender: triage");
}

fn reopen_and_follow_up(db: &TestDb) {
    setup(db);
    let i = intake(db);
    let mut conn = db.conn();
    let first = receive(&i, &mail("ada@univ-lyon.example", "Emoji import", "please import").id("r1@univ-lyon.example"));
    let t = first.ticket_id.unwrap();
    tickets::change_status(&mut conn, t, TicketStatus::Solved, Actor::System).unwrap();
    let r = receive(
        &i,
        &mail("ada@univ-lyon.example", "Re: Emoji import", "not all of them")
            .id("r2@univ-lyon.example")
            .h("In-Reply-To", "<r1@univ-lyon.example>"),
    );
    assert_eq!(r.outcome, Outcome::Appended);
    assert_eq!(tickets::get(&mut conn, t).unwrap().status, TicketStatus::Open, "reopened");

    // Solved long ago: a follow-up ticket that references the old one.
    tickets::change_status(&mut conn, t, TicketStatus::Solved, Actor::System).unwrap();
    let long_ago = tusk::db::now() - chrono::Duration::days(45);
    diesel::update(tickets_t::table.find(t)).set(tickets_t::solved_at.eq(Some(long_ago))).execute(&mut *conn).unwrap();
    let late = receive(
        &i,
        &mail("ada@univ-lyon.example", "Re: Emoji import", "again")
            .id("r3@univ-lyon.example")
            .h("In-Reply-To", "<r2@univ-lyon.example>"),
    );
    assert_eq!(late.outcome, Outcome::Created);
    let follow: Option<tusk::db::TicketId> =
        tickets_t::table.find(late.ticket_id.unwrap()).select(tickets_t::follow_up_of_id).first(&mut *conn).unwrap();
    assert_eq!(follow, Some(t));
    assert_eq!(tickets::get(&mut conn, t).unwrap().status, TicketStatus::Solved, "the old ticket stays solved");

    // Closed: always a follow-up.
    tickets::change_status(&mut conn, late.ticket_id.unwrap(), TicketStatus::Closed, Actor::System).unwrap();
    let after_close = receive(
        &i,
        &mail("ada@univ-lyon.example", "Re: Emoji import", "and again")
            .id("r4@univ-lyon.example")
            .h("In-Reply-To", "<r3@univ-lyon.example>"),
    );
    assert_eq!(after_close.outcome, Outcome::Created);
    assert_ne!(after_close.ticket_id, late.ticket_id);
}

fn quarantine_and_replay(db: &TestDb) {
    setup(db);
    let i = intake_with(db, |c| {
        c.mail.loop_limit_per_hour = 3;
        c.mail.max_message_bytes = 4000;
    });
    let garbage = i.receive(b"\x00\x01\x02 this is not a message", IntakeSource::Http, None).unwrap();
    assert_eq!(garbage.outcome, Outcome::Quarantined);
    assert!(garbage.reason.as_deref().unwrap().starts_with("unparseable"), "{:?}", garbage.reason);
    let big = mail("ada@univ-lyon.example", "Huge", &"x".repeat(5000)).id("q1@univ-lyon.example");
    let r = receive(&i, &big);
    assert_eq!(r.outcome, Outcome::Quarantined);
    assert!(r.reason.as_deref().unwrap().contains("over the limit"));
    let no_from = Mail {
        headers: vec![("Subject".into(), "hi".into()), ("Message-ID".into(), "<q2@x.example>".into())],
        body: "x".into(),
    };
    assert_eq!(receive(&i, &no_from).reason.as_deref(), Some("no sender address"));
    let ours = receive(&i, &mail("support@tusk.example", "loop", "x").id("q3@tusk.example"));
    assert!(ours.reason.as_deref().unwrap().contains("mail loop"), "{:?}", ours.reason);
    // A robot writing in a loop: the fourth message within the hour is quarantined.
    let mut outcomes = Vec::new();
    for n in 0..4 {
        outcomes
            .push(receive(&i, &mail("robot@ngo.example", "ping", "ping").id(&format!("loop{n}@ngo.example"))).outcome);
    }
    assert_eq!(outcomes, vec![Outcome::Created, Outcome::Created, Outcome::Created, Outcome::Quarantined]);
    // Blocked senders.
    let mut conn = db.conn();
    let c = contacts::find_or_create(&mut conn, "spam@ngo.example", None, Actor::System).unwrap();
    diesel::update(tusk::db::schema::contacts::table.find(c.id))
        .set(tusk::db::schema::contacts::blocked.eq(true))
        .execute(&mut *conn)
        .unwrap();
    assert!(
        receive(&i, &mail("spam@ngo.example", "buy", "now").id("s1@ngo.example"))
            .reason
            .unwrap()
            .contains("blocked sender")
    );

    // The raw bytes of a quarantined message are kept; a retry with a larger
    // limit turns it into a ticket, and a second replay is a duplicate.
    let receipt = tusk::domain::intake::get_receipt(&mut conn, r.inbound_id).unwrap();
    let raw = BlobStore::open(db.dir.path()).unwrap().load(&mut conn, &receipt.raw_blob).unwrap();
    assert_eq!(raw, big.raw());
    let roomy = intake(db);
    assert_eq!(roomy.replay(r.inbound_id).unwrap().outcome, Outcome::Created);
    assert_eq!(roomy.replay(r.inbound_id).unwrap().outcome, Outcome::Duplicate);
    tusk::domain::intake::discard(&mut conn, garbage.inbound_id).unwrap();
    let outcome: String =
        inbound_messages::table.find(garbage.inbound_id).select(inbound_messages::outcome).first(&mut *conn).unwrap();
    assert_eq!(outcome, "discarded");
    assert!(tusk::domain::intake::discard(&mut conn, r.inbound_id).is_err(), "only quarantined messages are discarded");
}

fn sender_trust(db: &TestDb) {
    setup(db);
    let mut conn = db.conn();
    agents::create(&mut conn, "bob@tusk.example", "Bob", Role::Agent, "a long password", Actor::System).unwrap();
    let i = intake_with(db, |c| {
        c.mail.authserv_id = "mx.tusk.example".into();
        c.mail.require_aligned_sender = true;
    });
    let aligned = receive(
        &i,
        &mail("ada@univ-lyon.example", "Aligned", "hi")
            .id("s1@univ-lyon.example")
            .h("Authentication-Results", "mx.tusk.example; spf=pass smtp.mailfrom=univ-lyon.example; dkim=pass header.d=univ-lyon.example; dmarc=pass header.from=univ-lyon.example"),
    );
    let t = tickets::get(&mut conn, aligned.ticket_id.unwrap()).unwrap();
    assert!(t.institution_id.is_some(), "{:?}", aligned.trace);
    let forged = receive(
        &i,
        &mail("ada@univ-lyon.example", "Forged", "hi")
            .id("s2@univ-lyon.example")
            .h("Authentication-Results", "evil.example; dmarc=pass header.from=univ-lyon.example"),
    );
    let t = tickets::get(&mut conn, forged.ticket_id.unwrap()).unwrap();
    assert!(t.institution_id.is_none() && t.needs_triage, "unaligned mail is not trusted: {:?}", forged.trace);
    // A spoofed agent address is never treated as the agent.
    let spoof = receive(&i, &mail("Bob <bob@tusk.example>", "Please reset", "give me access").id("s3@evil.example"));
    let m = tickets::messages_of(&mut conn, spoof.ticket_id.unwrap()).unwrap().remove(0);
    assert_eq!(m.kind, MessageKind::Inbound);
    assert!(m.author_agent_id.is_none());
    assert!(spoof.trace.iter().any(|s| s.contains("staff address")), "{:?}", spoof.trace);
}

fn backfill_history(db: &TestDb) {
    setup(db);
    let mut conn = db.conn();
    agents::create(&mut conn, "bob@tusk.example", "Bob", Role::Agent, "a long password", Actor::System).unwrap();
    let i = intake(db).backfill(true);
    let q = mail("ada@univ-lyon.example", "Old question", "How do I block a domain?")
        .id("h1@univ-lyon.example")
        .h("Date", "Mon, 03 Mar 2025 10:00:00 +0100");
    let a = mail("Bob <bob@tusk.example>", "Re: Old question", "Use the admin panel.")
        .id("h2@tusk.example")
        .h("To", "ada@univ-lyon.example")
        .h("In-Reply-To", "<h1@univ-lyon.example>")
        .h("Date", "Mon, 03 Mar 2025 11:30:00 +0100");
    let first = receive(&i, &q);
    let second = receive(&i, &a);
    assert_eq!((first.outcome, second.outcome), (Outcome::Created, Outcome::Appended), "{:?}", second.trace);
    let t = tickets::get(&mut conn, first.ticket_id.unwrap()).unwrap();
    assert_eq!(t.status, TicketStatus::Solved, "solved: the agent wrote last");
    assert_eq!(t.created_at.to_string(), "2025-03-03 09:00:00");
    assert_eq!(t.first_response_at.map(|d| d.to_string()).as_deref(), Some("2025-03-03 10:30:00"));
    let msgs = tickets::messages_of(&mut conn, t.id).unwrap();
    assert_eq!(msgs[1].kind, MessageKind::Reply);
    assert!(msgs[1].author_agent_id.is_some());
    assert!(acks_to(db, "ada@univ-lyon.example").is_empty(), "no acknowledgements in a backfill");
    let third = receive(
        &i,
        &mail("ada@univ-lyon.example", "Re: Old question", "Thanks, and another thing")
            .id("h3@univ-lyon.example")
            .h("In-Reply-To", "<h2@tusk.example>")
            .h("Date", "Tue, 04 Mar 2025 08:00:00 +0100"),
    );
    assert_eq!(third.outcome, Outcome::Appended);
    assert_eq!(tickets::get(&mut conn, t.id).unwrap().status, TicketStatus::Open, "the customer wrote last");
}

mod http {
    use super::*;
    use actix_web::test as atest;
    use tusk::web::errors::Problem;
    use tusk::{AppState, build_app};

    on_both_backends!(inbound_endpoint);

    fn inbound_endpoint(db: &TestDb) {
        setup(db);
        actix_web::rt::System::new().block_on(async {
            let mut c = config(db);
            c.mail.inbound_token = tusk::config::Secret::new("s3cret-token");
            c.mail.refuse_over_bytes = c.mail.max_message_bytes;
            let max = c.mail.refuse_over_bytes;
            let app = atest::init_service(build_app(AppState::new(c, db.db.clone()).unwrap())).await;
            let raw = mail("ada@univ-lyon.example", "Over HTTP", "hello").id("h1@univ-lyon.example").raw();
            let post = |token: Option<&str>, body: Vec<u8>| {
                let mut req = atest::TestRequest::post().uri("/inbound/email").set_payload(body);
                if let Some(t) = token {
                    req = req.insert_header(("Authorization", format!("Bearer {t}")));
                }
                req.to_request()
            };

            let res = atest::call_service(&app, post(None, raw.clone())).await;
            assert_eq!(res.status(), 401);
            let res = atest::call_service(&app, post(Some("wrong"), raw.clone())).await;
            assert_eq!(res.status(), 401);
            let p: Problem = atest::read_body_json(res).await;
            assert_eq!(p.kind, "urn:tusk:problem:unauthorized");
            assert_eq!(count(&mut db.conn(), "inbound_messages"), 0, "nothing stored without the token");

            let res = atest::call_service(&app, post(Some("s3cret-token"), raw.clone())).await;
            assert_eq!(res.status(), 200);
            let body: serde_json::Value = atest::read_body_json(res).await;
            assert_eq!(body["outcome"], "created");
            let ticket_id = body["ticket_id"].as_i64().unwrap();
            let res = atest::call_service(&app, post(Some("s3cret-token"), raw.clone())).await;
            let again: serde_json::Value = atest::read_body_json(res).await;
            assert_eq!(again["outcome"], "duplicate");
            assert_eq!(again["ticket_id"].as_i64(), Some(ticket_id));

            let res = atest::call_service(&app, post(Some("s3cret-token"), vec![b'x'; max + 1])).await;
            assert_eq!(res.status(), 413);
            let res = atest::call_service(&app, post(Some("s3cret-token"), Vec::new())).await;
            assert_eq!(res.status(), 422);
            assert_eq!(count(&mut db.conn(), "inbound_messages"), 2, "refused bodies are not stored");

            // Metrics count inbound outcomes.
            let res = atest::call_service(&app, atest::TestRequest::get().uri("/metrics").to_request()).await;
            let text = String::from_utf8(atest::read_body(res).await.to_vec()).unwrap();
            assert!(text.contains("tusk_inbound_emails_total{outcome=\"created\"} 1"), "{text}");
        });
        // Without a configured token the endpoint is off.
        actix_web::rt::System::new().block_on(async {
            let app = atest::init_service(build_app(AppState::new(config(db), db.db.clone()).unwrap())).await;
            let req = atest::TestRequest::post()
                .uri("/inbound/email")
                .insert_header(("Authorization", "Bearer x"))
                .set_payload("Subject: x\r\n\r\nx")
                .to_request();
            assert_eq!(atest::call_service(&app, req).await.status(), 503);
        });
    }
}
