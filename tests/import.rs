//! CSV import of institutions and instances, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, count, plans};
use tusk::db::InstanceStatus;
use tusk::domain::{Actor, instances, institutions};
use tusk::import::{self, Rejected};

on_both_backends!(institutions_csv, instances_csv_with_bad_rows, bad_header_writes_nothing);

fn rejected(line: u64, reason: &str) -> Rejected {
    Rejected { line, reason: reason.to_string() }
}

fn institutions_csv(db: &TestDb) {
    let mut conn = db.conn();
    let csv = "\u{feff}slug,name,domains,default_plan\n\
        uni-lyon,Université de Lyon,univ-lyon.example;etu.univ-lyon.example,managed\n\
        ghent,City of Ghent,ghent.example,single\n\
        ghent,Ghent again,ghent2.example,single\n\
        ngo-a,Open Knowledge,univ-lyon.example,single\n\
        ngo-b,Other NGO,not_a_domain,single\n\
        ngo-c,Gold NGO,gold.example,gold\n\
        ngo-d,Too many,d.example,single,extra\n\
        \n\
        \"ngo-e\",\"Quoted, with comma\",e.example,\n";
    let report = import::institutions(&mut conn, &plans(), csv.as_bytes(), Actor::System).unwrap();
    assert_eq!(report.created, 3, "{report:?}");
    assert_eq!(
        report.rejected,
        vec![
            rejected(4, "slug `ghent` already appears on line 3"),
            rejected(5, "duplicate domain `univ-lyon.example`: already on line 2"),
            rejected(6, "`not_a_domain` is not a valid domain name"),
            rejected(7, "unknown plan tier `gold` (known: managed, single)"),
            rejected(8, "expected 4 columns, found 5"),
        ]
    );
    let lyon = institutions::by_slug(&mut conn, "uni-lyon").unwrap().unwrap();
    assert_eq!(lyon.name, "Université de Lyon");
    assert_eq!(lyon.default_plan, "managed");
    assert_eq!(
        institutions::domains_of(&mut conn, lyon.id).unwrap(),
        vec!["etu.univ-lyon.example", "univ-lyon.example"]
    );
    let e = institutions::by_slug(&mut conn, "ngo-e").unwrap().unwrap();
    assert_eq!(e.name, "Quoted, with comma");
    assert_eq!(e.default_plan, "single", "empty plan means the default tier");

    // A domain owned by an institution from an earlier import is refused too.
    let again = "slug,name,domains\nngo-f,NGO F,ghent.example\nuni-lyon,Université de Lyon,univ-lyon.example;etu.univ-lyon.example\n";
    let report = import::institutions(&mut conn, &plans(), again.as_bytes(), Actor::System).unwrap();
    assert_eq!(
        report.rejected,
        vec![rejected(2, "email domain `ghent.example` already belongs to institution `ghent`")]
    );
    assert_eq!((report.created, report.updated, report.unchanged), (0, 0, 1));
    assert!(institutions::by_slug(&mut conn, "ngo-f").unwrap().is_none(), "a rejected line writes nothing");
}

fn instances_csv_with_bad_rows(db: &TestDb) {
    let mut conn = db.conn();
    import::institutions(
        &mut conn,
        &plans(),
        "slug,name,domains,default_plan\nuni-lyon,Université de Lyon,univ-lyon.example,managed\nghent,City of Ghent,ghent.example,single\n"
            .as_bytes(),
        Actor::System,
    )
    .unwrap();
    let csv = "domain,institution,plan,status,mastodon_version,region\n\
        social.univ-lyon.example,uni-lyon,,active,4.3.2,eu-west\n\
        mastodon.ghent.example,ghent,managed,provisioning,,\n\
        social.univ-lyon.example,ghent,single,active,,\n\
        masto.unknown.example,atlantis,single,active,,\n\
        bad_domain!,ghent,single,active,,\n\
        x.ghent.example,ghent,single\n\
        y.ghent.example,ghent,single,exploded,,\n";
    let report = import::instances(&mut conn, &plans(), csv.as_bytes(), Actor::System).unwrap();
    assert_eq!(report.created, 2, "{report:?}");
    assert_eq!(
        report.rejected,
        vec![
            rejected(4, "duplicate domain `social.univ-lyon.example`: already on line 2"),
            rejected(5, "unknown institution `atlantis`"),
            rejected(6, "`bad_domain!` is not a valid domain name"),
            rejected(7, "expected 6 columns, found 3"),
            rejected(
                8,
                "unknown instance status `exploded` (expected one of: provisioning, active, suspended, decommissioned)"
            ),
        ]
    );
    assert_eq!(count(&mut conn, "instances"), 2);
    let lyon = instances::by_domain(&mut conn, "social.univ-lyon.example").unwrap().unwrap();
    assert_eq!(lyon.plan, "managed", "empty plan: the institution's default");
    assert_eq!(lyon.mastodon_version.as_deref(), Some("4.3.2"));
    let ghent = instances::by_domain(&mut conn, "mastodon.ghent.example").unwrap().unwrap();
    assert_eq!((ghent.plan.as_str(), ghent.status), ("managed", InstanceStatus::Provisioning));

    // Re-import: an upsert by domain updates what changed and counts the rest unchanged.
    let csv =
        "domain,institution,status\nsocial.univ-lyon.example,uni-lyon,active\nmastodon.ghent.example,ghent,active\n";
    let report = import::instances(&mut conn, &plans(), csv.as_bytes(), Actor::System).unwrap();
    assert_eq!((report.created, report.updated, report.unchanged), (0, 1, 1));
    let evs = tusk::domain::events::for_subject(&mut conn, "instance", ghent.id.0).unwrap();
    assert!(evs.iter().any(|e| e.field.as_deref() == Some("status")
        && e.old_value.as_deref() == Some("provisioning")
        && e.new_value.as_deref() == Some("active")));
}

fn bad_header_writes_nothing(db: &TestDb) {
    let mut conn = db.conn();
    let err = import::institutions(&mut conn, &plans(), "slug,nmae\na,b\n".as_bytes(), Actor::System).unwrap_err();
    assert!(err.message().contains("line 1: unknown column `nmae`"), "{err}");
    let err = import::instances(&mut conn, &plans(), "domain,plan\na.example,single\n".as_bytes(), Actor::System)
        .unwrap_err();
    assert!(err.message().contains("lacks the column `institution`"), "{err}");
    assert_eq!(count(&mut conn, "institutions"), 0);
    assert_eq!(count(&mut conn, "events"), 0);
}
