//! `tusk ingest` over the shared email corpus and over an mbox, on SQLite
//! and PostgreSQL: every message ends as a ticket message, a duplicate, a
//! classified auto-reply or bounce, or a quarantine entry with a reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{TestDb, count};
use diesel::prelude::*;
use tusk::config::Config;
use tusk::db::models::{Attachment, InboundMessage, Message};
use tusk::db::schema::{attachments, inbound_messages, messages};
use tusk::mail::ingest::{self, IngestOptions};
use tusk::mail::intake::Intake;
use tusk::storage::BlobStore;

on_both_backends!(whole_corpus, mbox_and_dedupe_via_ingest);

fn corpus_root() -> PathBuf {
    std::env::var_os("TUSK_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/email"))
}

fn corpus_files() -> Vec<PathBuf> {
    let root = corpus_root();
    let index = std::fs::read_to_string(root.join("INDEX.tsv")).expect("../shared/corpus/email/INDEX.tsv");
    index.lines().skip(1).filter_map(|l| l.split('\t').next()).map(|p| root.join(p)).collect()
}

fn intake(db: &TestDb) -> Intake {
    let mut c = Config::defaults().unwrap();
    c.data_dir = db.dir.path().to_path_buf();
    Intake::new(&c, db.db.clone(), BlobStore::open(&c.data_dir).unwrap())
}

fn whole_corpus(db: &TestDb) {
    let files = corpus_files();
    assert_eq!(files.len(), 1040, "the corpus index lists 1,040 messages");
    let i = intake(db);
    let report = ingest::run(&i, &files, &IngestOptions { progress: false, workers: 2 }).unwrap();
    let s = &report.summary;
    eprintln!(
        "corpus on {:?}: {} created, {} appended, {} duplicate, {} auto-reply, {} bounce, {} quarantined, {} unreadable",
        db.backend(),
        s.created,
        s.appended,
        s.duplicate,
        s.auto_reply,
        s.bounce,
        s.quarantined,
        s.unreadable
    );
    assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
    // A file that is an mbox holds several messages: at least one each.
    assert!(s.total() >= 1040, "none lost: {}", s.total());
    assert_eq!(report.inbound_ids.len() as u64, s.total());
    assert!(s.created > 300 && s.bounce > 250 && s.auto_reply > 40 && s.quarantined < 80, "{s:?}");

    let mut conn = db.conn();
    let receipts: Vec<InboundMessage> = inbound_messages::table
        .select(InboundMessage::as_select())
        .order(inbound_messages::id)
        .load(&mut *conn)
        .unwrap();
    assert_eq!(receipts.len() as u64, s.total(), "one receipt per message");
    for file in &files {
        let name = file.display().to_string();
        assert!(
            receipts
                .iter()
                .any(|r| r.origin.as_deref().is_some_and(|o| o == name || o.starts_with(&format!("{name}#")))),
            "no receipt for {name}"
        );
    }
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    for r in &receipts {
        *by_outcome.entry(r.outcome.clone()).or_default() += 1;
        assert_ne!(r.outcome, "received", "{} was never processed", r.origin.as_deref().unwrap_or("?"));
        if r.outcome == "quarantined" {
            assert!(r.reason.as_deref().is_some_and(|x| !x.is_empty()), "quarantine without a reason");
        }
        let trace: Vec<String> = serde_json::from_str(&r.trace).unwrap();
        assert!(trace.len() >= 3, "a trace for {:?}: {trace:?}", r.origin);
    }
    eprintln!("outcomes in the database: {by_outcome:?}");
    assert_eq!(count(&mut conn, "messages") as u64, s.created + s.appended);

    // What was stored is what the parser reads from the raw bytes (the parser
    // itself is checked against the corpus's mail-parser and Zammad
    // expectation files in the library's tests).
    let blobs = BlobStore::open(db.dir.path()).unwrap();
    let stored: Vec<Message> = messages::table.select(Message::as_select()).load(&mut *conn).unwrap();
    let files_attached: Vec<Attachment> =
        attachments::table.order(attachments::id).select(Attachment::as_select()).load(&mut *conn).unwrap();
    for m in &stored {
        let raw = blobs.load(&mut conn, m.raw_blob.as_deref().unwrap()).unwrap();
        // Small blobs are rows of the database, large ones files.
        let in_file = blobs.contains(m.raw_blob.as_deref().unwrap());
        assert_eq!(in_file, raw.len() > tusk::storage::DEFAULT_INLINE_MAX_BYTES, "{}", m.message_id);
        let parsed = tusk::mail::inbound::parse(&raw).unwrap();
        assert_eq!(m.message_id, parsed.stable_id);
        assert_eq!(
            m.from_address,
            parsed.from.as_ref().map(|a| tusk::mail::intake::clean_address(&a.email)),
            "{}",
            m.message_id
        );
        // NUL characters are dropped on the way in (PostgreSQL text cannot hold them).
        assert_eq!(m.subject, Some(parsed.subject.replace('\0', "")));
        assert_eq!(m.body_text, parsed.text_body.replace('\0', ""), "{}", m.message_id);
        let names: Vec<&str> =
            files_attached.iter().filter(|a| a.message_id == m.id).map(|a| a.filename.as_str()).collect();
        let expected: Vec<String> = parsed.attachments.iter().map(|a| a.filename.replace('\0', "")).collect();
        assert_eq!(names, expected, "{}", m.message_id);
        for a in files_attached.iter().filter(|a| a.message_id == m.id) {
            assert!(blobs.exists(&mut conn, &a.sha256).unwrap(), "attachment blob {} stored", a.sha256);
        }
        if let Some(html) = &m.body_html_sanitized {
            assert!(!html.to_ascii_lowercase().contains("<script"), "sanitized HTML has no script");
        }
    }

    // Zammad's expectations, checked on the stored rows directly.
    let root = corpus_root();
    let mut checked = 0;
    for r in &receipts {
        let file = PathBuf::from(r.origin.as_deref().unwrap());
        let yml = file.with_extension("yml");
        if r.outcome != "created" || !yml.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&yml).unwrap();
        let Some(from_email) = text.lines().find_map(|l| l.strip_prefix("from_email: ")) else { continue };
        // Tusk drops a trailing dot that Zammad keeps (`user@yahoo.com.`).
        let from_email = from_email.trim().trim_matches('\'').trim_matches('"').trim_end_matches('.').to_lowercase();
        if !from_email.contains('@') || from_email.contains(' ') {
            continue;
        }
        let m = stored.iter().find(|m| Some(m.id) == r.message_ref).unwrap();
        assert_eq!(m.from_address.as_deref(), Some(from_email.as_str()), "{}", yml.display());
        checked += 1;
    }
    assert!(checked > 30, "checked {checked} Zammad expectations under {}", root.display());

    // The whole corpus again: nothing new.
    let again = ingest::run(&i, &files, &IngestOptions { progress: false, workers: 2 }).unwrap();
    assert_eq!(again.summary.created + again.summary.appended, 0, "{:?}", again.summary);
    assert_eq!(count(&mut conn, "messages") as u64, s.created + s.appended);
}

fn mbox_and_dedupe_via_ingest(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("support.mbox");
    std::fs::write(
        &mbox,
        "From ada@univ-lyon.example Mon Mar  3 10:00:00 2025\n\
From: Ada <ada@univ-lyon.example>\nTo: support@tusk.example\nSubject: Relay\nMessage-ID: <m1@univ-lyon.example>\n\n\
Our relay subscription is stuck.\n>From the logs it looks like a timeout.\n\n\
From ada@univ-lyon.example Mon Mar  3 11:00:00 2025\n\
From: Ada <ada@univ-lyon.example>\nTo: support@tusk.example\nSubject: Re: Relay\nMessage-ID: <m2@univ-lyon.example>\nIn-Reply-To: <m1@univ-lyon.example>\n\n\
Any news?\n\n\
From grace@ngo.example Mon Mar  3 12:00:00 2025\n\
From: grace@ngo.example\nTo: support@tusk.example\nSubject: Storage\nMessage-ID: <m3@ngo.example>\n\nDisk full.\n",
    )
    .unwrap();
    let i = intake(db);
    let first = ingest::run(&i, std::slice::from_ref(&mbox), &IngestOptions::default()).unwrap();
    assert_eq!((first.summary.created, first.summary.appended), (2, 1), "{:?}", first.summary);
    let mut conn = db.conn();
    let body: String = messages::table
        .filter(messages::message_id.eq("m1@univ-lyon.example"))
        .select(messages::body_text)
        .first(&mut *conn)
        .unwrap();
    assert!(body.contains("\nFrom the logs"), "mboxrd quoting undone: {body:?}");
    let origins: Vec<Option<String>> =
        inbound_messages::table.order(inbound_messages::id).select(inbound_messages::origin).load(&mut *conn).unwrap();
    assert!(origins[0].as_deref().unwrap().contains("support.mbox"), "{origins:?}");
    // The same mailbox again, and one of its messages over HTTP-style intake.
    let again = ingest::run(&i, std::slice::from_ref(&mbox), &IngestOptions::default()).unwrap();
    assert_eq!(again.summary.duplicate, 3, "{:?}", again.summary);
    let raw = b"From: grace@ngo.example\r\nTo: support@tusk.example\r\nSubject: Storage\r\nMessage-ID: <m3@ngo.example>\r\n\r\nDisk full.\r\n";
    let r = i.receive(raw, tusk::domain::intake::IntakeSource::Http, None).unwrap();
    assert_eq!(r.outcome, tusk::domain::intake::Outcome::Duplicate);
    assert_eq!(count(&mut conn, "messages"), 3);
    assert!(ingest::run(&i, &[dir.path().join("missing.mbox")], &IngestOptions::default()).is_err());
}
