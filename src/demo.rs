//! `tusk serve --demo`: a small, realistic dataset for trying Tusk out,
//! written through the domain functions (so it carries the same events and
//! outbox rows as real work) and only into an empty database.
//!
//! Five fictional institutions on both plan tiers, their instances and
//! contacts, four staff accounts sharing [`DEMO_PASSWORD`], and eighteen
//! tickets covering every status and priority, with threads of customer
//! messages, replies and internal notes.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::schema::{institutions, tickets as tickets_table};
use crate::db::{
    AgentId, AnyConnection, Channel, ContactId, InstanceId, MessageKind, Priority, Role, TicketStatus, now,
};
use crate::domain::instances::InstanceInput;
use crate::domain::institutions::InstitutionInput;
use crate::domain::tickets::{Author, MessageInput, TicketInput, generate_message_id};
use crate::domain::{Actor, Plans, agents, contacts, instances, institutions as institution_domain, tickets};
use crate::error::AppResult;

/// The demo administrator's sign-in address.
pub const DEMO_ADMIN_EMAIL: &str = "admin@tusk.example";
/// The demo agent's sign-in address.
pub const DEMO_AGENT_EMAIL: &str = "agent@tusk.example";
/// The password of every demo staff account.
pub const DEMO_PASSWORD: &str = "tusk-demo-password";

/// What [`seed_if_empty`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoOutcome {
    /// The database was empty; this many tickets were created.
    Seeded { tickets: usize },
    /// The database already had institutions or tickets; nothing was added.
    AlreadyPopulated,
}

/// Seeds the demo dataset when the database has no institutions and no
/// tickets, in one transaction (a failure leaves nothing behind).
pub fn seed_if_empty(conn: &mut AnyConnection, plans: &Plans) -> AppResult<DemoOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let institution_count: i64 = institutions::table.count().get_result(conn)?;
        let ticket_count: i64 = tickets_table::table.count().get_result(conn)?;
        if institution_count > 0 || ticket_count > 0 {
            return Ok(DemoOutcome::AlreadyPopulated);
        }
        let tickets = seed(conn, plans)?;
        Ok(DemoOutcome::Seeded { tickets })
    })
}

/// The plan id `wanted` when configured; otherwise `None` (the default tier).
fn tier(plans: &Plans, wanted: &str) -> Option<String> {
    plans.ids().iter().any(|id| id == wanted).then(|| wanted.to_string())
}

struct DemoInstitution {
    slug: &'static str,
    name: &'static str,
    domain: &'static str,
    plan: &'static str,
    /// (domain, Mastodon version, region)
    instances: &'static [(&'static str, &'static str, &'static str)],
    /// (email, name); the first one is the institution's admin.
    contacts: &'static [(&'static str, &'static str)],
}

const INSTITUTIONS: &[DemoInstitution] = &[
    DemoInstitution {
        slug: "uni-lindenfeld",
        name: "University of Lindenfeld",
        domain: "uni-lindenfeld.example",
        plan: "managed",
        instances: &[
            ("social.uni-lindenfeld.example", "4.3.8", "eu-central"),
            ("research.uni-lindenfeld.example", "4.2.15", "eu-central"),
        ],
        contacts: &[
            ("helena.vogt@uni-lindenfeld.example", "Helena Vogt"),
            ("tobias.brandt@uni-lindenfeld.example", "Tobias Brandt"),
            ("mira.solberg@uni-lindenfeld.example", "Mira Solberg"),
        ],
    },
    DemoInstitution {
        slug: "brackwater-city",
        name: "City of Brackwater",
        domain: "brackwater.example",
        plan: "single",
        instances: &[("mastodon.brackwater.example", "4.3.6", "eu-west")],
        contacts: &[
            ("owen.pritchard@brackwater.example", "Owen Pritchard"),
            ("lucia.ferrante@brackwater.example", "Lucia Ferrante"),
        ],
    },
    DemoInstitution {
        slug: "estmark-library",
        name: "National Library of Estmark",
        domain: "nl-estmark.example",
        plan: "managed",
        instances: &[("social.nl-estmark.example", "4.4.1", "eu-north")],
        contacts: &[
            ("signe.aalto@nl-estmark.example", "Signe Aalto"),
            ("karl.rebane@nl-estmark.example", "Karl Rebane"),
            ("ada.lindqvist@nl-estmark.example", "Ada Lindqvist"),
        ],
    },
    DemoInstitution {
        slug: "open-rivers",
        name: "Open Rivers Foundation",
        domain: "openrivers.example",
        plan: "single",
        instances: &[("social.openrivers.example", "4.2.10", "eu-central")],
        contacts: &[("fatou.diallo@openrivers.example", "Fatou Diallo"), ("ben.okoro@openrivers.example", "Ben Okoro")],
    },
    DemoInstitution {
        slug: "digital-commons",
        name: "Digital Commons Collective",
        domain: "digitalcommons.example",
        plan: "single",
        instances: &[("toot.digitalcommons.example", "4.1.22", "ca-east")],
        contacts: &[
            ("noa.peretz@digitalcommons.example", "Noa Peretz"),
            ("jules.martin@digitalcommons.example", "Jules Martin"),
            ("kai.nakamura@digitalcommons.example", "Kai Nakamura"),
        ],
    },
];

/// (email, name, role); the first two are the documented demo logins.
const STAFF: &[(&str, &str, Role)] = &[
    (DEMO_ADMIN_EMAIL, "Robin Hale", Role::Admin),
    (DEMO_AGENT_EMAIL, "Jamie Ortega", Role::Agent),
    ("sasha.klein@tusk.example", "Sasha Klein", Role::Manager),
    ("priya.nair@tusk.example", "Priya Nair", Role::Agent),
];
const ROBIN: usize = 0;
const JAMIE: usize = 1;
const SASHA: usize = 2;
const PRIYA: usize = 3;

/// A prospect who is not a customer yet (no institution).
const PROSPECT: (&str, &str) = ("info@harbour-museum.example", "Harbour Museum");

/// Who wrote a thread entry.
#[derive(Clone, Copy)]
enum Who {
    Customer,
    Reply(usize),
    Note(usize),
}

/// Who asks: a contact of an institution (indexes), or the prospect.
#[derive(Clone, Copy)]
enum Requester {
    Contact(usize, usize),
    Prospect,
}

struct DemoTicket {
    requester: Requester,
    /// Index into the flattened instance list, in `INSTITUTIONS` order.
    instance: Option<usize>,
    subject: &'static str,
    status: TicketStatus,
    priority: Priority,
    channel: Channel,
    assignee: Option<usize>,
    tags: &'static [&'static str],
    triage_reason: Option<&'static str>,
    /// How long ago the first message arrived.
    age_minutes: i64,
    /// (minutes after the first message, author, text); the first entry is
    /// the customer's opening message.
    thread: &'static [(i64, Who, &'static str)],
}

// Instance indexes in the flattened list.
const LINDENFELD_SOCIAL: usize = 0;
const LINDENFELD_RESEARCH: usize = 1;
const BRACKWATER: usize = 2;
const ESTMARK: usize = 3;
const OPEN_RIVERS: usize = 4;
const DIGITAL_COMMONS: usize = 5;

const HOUR: i64 = 60;
const DAY: i64 = 24 * HOUR;

const TICKETS: &[DemoTicket] = &[
    DemoTicket {
        requester: Requester::Contact(0, 1),
        instance: Some(LINDENFELD_SOCIAL),
        subject: "Federation with mastodon.social stopped this morning",
        status: TicketStatus::Open,
        priority: Priority::Urgent,
        channel: Channel::Email,
        assignee: Some(JAMIE),
        tags: &["federation"],
        triage_reason: None,
        age_minutes: 5 * HOUR,
        thread: &[
            (
                0,
                Who::Customer,
                "Hello,\n\nsince about 07:00 our posts on social.uni-lindenfeld.example no longer show up on mastodon.social, and replies from people there do not reach us either. Smaller servers still seem fine. Our press office is announcing the new rector today, so this is quite urgent.\n\nBest regards,\nTobias Brandt\nIT Services, University of Lindenfeld",
            ),
            (
                25,
                Who::Note(JAMIE),
                "Push queue for social.uni-lindenfeld.example is at 38k jobs, almost all deliveries to mastodon.social failing with 429. Looks like we are being rate limited after the weekend's import of follows.",
            ),
            (
                40,
                Who::Reply(JAMIE),
                "Hello Tobias,\n\nthanks for the quick report. mastodon.social is rate-limiting deliveries from your instance, so about 38,000 posts and replies are waiting in the Sidekiq push queue. I have slowed our delivery rate and contacted their admins. Posts are not lost; they will federate as the queue drains.\n\nI will update you within two hours.\n\nBest regards,\nJamie Ortega\nMastodon hosting support",
            ),
            (
                3 * HOUR,
                Who::Customer,
                "Hi Jamie,\n\nthe queue seems to be moving, newer posts appear on mastodon.social now. But the rector's announcement from this morning is still missing there. Can you push that one through first?\n\nTobias",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(1, 0),
        instance: Some(BRACKWATER),
        subject: "Media storage at 95% of our quota",
        status: TicketStatus::Pending,
        priority: Priority::High,
        channel: Channel::Email,
        assignee: Some(PRIYA),
        tags: &["storage", "billing"],
        triage_reason: None,
        age_minutes: 2 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Dear support team,\n\nwe received an automatic warning that the media storage for mastodon.brackwater.example is at 95% of our quota. Our communications team posts a lot of photos from city events. What are our options before uploads start failing?\n\nKind regards,\nOwen Pritchard\nCity of Brackwater",
            ),
            (
                3 * HOUR,
                Who::Reply(PRIYA),
                "Hello Owen,\n\nabout 60% of your storage is cached media from other servers, not your own uploads. I have cleared remote media older than 14 days, which brings you down to 71%. To stay comfortable, you can either shorten the media cache retention to 7 days (free) or move to the next storage step, 250 GB instead of 100 GB. Which would you prefer?\n\nKind regards,\nPriya Nair",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(4, 0),
        instance: Some(DIGITAL_COMMONS),
        subject: "Upgrade request: Mastodon 4.4",
        status: TicketStatus::OnHold,
        priority: Priority::Normal,
        channel: Channel::Email,
        assignee: Some(SASHA),
        tags: &["upgrade"],
        triage_reason: None,
        age_minutes: 6 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Hi,\n\nour members keep asking for quote posts and the improved filters. Could you upgrade toot.digitalcommons.example to Mastodon 4.4? Any evening next week works for us.\n\nThanks,\nNoa Peretz\nDigital Commons Collective",
            ),
            (
                5 * HOUR,
                Who::Reply(SASHA),
                "Hi Noa,\n\nhappy to. Your instance still runs 4.1.22, so we have to go through 4.2 and 4.3 first; each step has database migrations, and the ElasticSearch index has to be rebuilt at the end. Plan for about 45 minutes of downtime. Our next maintenance window is Thursday 19:00 UTC: can you confirm it with your members and let us know?\n\nBest regards,\nSasha Klein",
            ),
            (
                5 * HOUR + 20,
                Who::Note(SASHA),
                "On hold until the customer confirms the window. Test the 4.1 -> 4.4 path on staging with a copy of their database first.",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(3, 0),
        instance: Some(OPEN_RIVERS),
        subject: "Spam wave: dozens of bot sign-ups overnight",
        status: TicketStatus::Solved,
        priority: Priority::Urgent,
        channel: Channel::Email,
        assignee: Some(JAMIE),
        tags: &["moderation", "spam"],
        triage_reason: None,
        age_minutes: 3 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Hello,\n\novernight about 60 new accounts signed up on social.openrivers.example and started posting links to a fake crypto site, mentioning our followers. We are a small team and cannot suspend them one by one. Please help!\n\nFatou Diallo\nOpen Rivers Foundation",
            ),
            (
                35,
                Who::Reply(JAMIE),
                "Hello Fatou,\n\nI have switched registrations to require approval and suspended the 63 spam accounts; they all used the same disposable email provider, which I have blocked for sign-ups. Their posts are gone from your local timeline.\n\nBest regards,\nJamie Ortega",
            ),
            (
                4 * HOUR,
                Who::Customer,
                "Thank you, that was fast! Some followers still get spam mentions, from accounts on other servers this time. Is there anything we can do about those?\n\nFatou",
            ),
            (
                5 * HOUR,
                Who::Reply(JAMIE),
                "Hello Fatou,\n\nthose come from two servers with open registrations and no active moderation. I have limited both on your instance, so their accounts can no longer reach your members unless someone follows them. I am marking this as solved; reply to this email if the spam comes back.\n\nBest regards,\nJamie Ortega",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(3, 1),
        instance: Some(OPEN_RIVERS),
        subject: "Import our river mascots as custom emoji",
        status: TicketStatus::Closed,
        priority: Priority::Low,
        channel: Channel::Email,
        assignee: Some(PRIYA),
        tags: &["custom-emoji"],
        triage_reason: None,
        age_minutes: 9 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Hi there,\n\nour designers made 40 custom emoji of our river mascots (otters, herons, a very grumpy pike). The upload through the admin page fails for the archive. Could you import them for us? The zip is linked below.\n\nCheers,\nBen Okoro",
            ),
            (
                DAY,
                Who::Reply(PRIYA),
                "Hi Ben,\n\nlovely set! The upload failed because six files are larger than the 256 KB limit. I have shrunk those and imported all 40 with tootctl, in a category called 'Open Rivers'. They appear in the web picker now; mobile apps show them after a restart.\n\nKind regards,\nPriya Nair",
            ),
            (DAY + 2 * HOUR, Who::Customer, "They look great, the pike is already a favourite. Thanks a lot!\n\nBen"),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(0, 0),
        instance: Some(LINDENFELD_SOCIAL),
        subject: "SSO login broken after our IdP certificate renewal",
        status: TicketStatus::Open,
        priority: Priority::High,
        channel: Channel::Email,
        assignee: Some(ROBIN),
        tags: &["login"],
        triage_reason: None,
        age_minutes: 26 * HOUR,
        thread: &[
            (
                0,
                Who::Customer,
                "Dear Tusk support,\n\nsince yesterday evening nobody can log in to social.uni-lindenfeld.example with the university single sign-on. After the redirect from our identity provider the page says 'Invalid SAML response'. Our identity team renewed the signing certificate yesterday afternoon, which is probably related. Local password logins still work.\n\nBest regards,\nDr. Helena Vogt\nHead of Digital Communication",
            ),
            (
                2 * HOUR,
                Who::Reply(ROBIN),
                "Dear Helena,\n\nthat matches: we still trust the old signing certificate. Could your identity team send us the URL of the new SAML metadata (or the metadata file)? As soon as we have it we will update the configuration; it takes a few minutes.\n\nBest regards,\nRobin Hale",
            ),
            (
                20 * HOUR,
                Who::Customer,
                "Hello Robin,\n\nthe metadata is at https://idp.uni-lindenfeld.example/metadata.xml according to our identity team. Sorry for the delay, they were out this morning.\n\nHelena",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(2, 1),
        instance: None,
        subject: "Purchase order number missing on invoice",
        status: TicketStatus::Pending,
        priority: Priority::Low,
        channel: Channel::Web,
        assignee: Some(SASHA),
        tags: &["billing"],
        triage_reason: None,
        age_minutes: 4 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Hello,\n\nour finance department cannot process the invoice for this quarter because our purchase order number is missing. Could you reissue it with the PO number?\n\nKarl Rebane\nNational Library of Estmark, Finance",
            ),
            (
                6 * HOUR,
                Who::Reply(SASHA),
                "Hello Karl,\n\nof course. We have no purchase order number on file for the library yet; could you send it to us? I will reissue the invoice the same day.\n\nKind regards,\nSasha Klein",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(0, 2),
        instance: None,
        subject: "Our Mastodon is not sending emails",
        status: TicketStatus::New,
        priority: Priority::Normal,
        channel: Channel::Email,
        assignee: None,
        tags: &["email-delivery"],
        triage_reason: Some("The University of Lindenfeld has two instances and the message does not say which one."),
        age_minutes: 50,
        thread: &[(
            0,
            Who::Customer,
            "Hi,\n\nnew colleagues from the press office say they never get the confirmation email when they sign up on our Mastodon, so they cannot log in. I tried with my own address and nothing arrived either, not even in the spam folder.\n\nThanks,\nMira Solberg\nPress Office, University of Lindenfeld",
        )],
    },
    DemoTicket {
        requester: Requester::Prospect,
        instance: None,
        subject: "Quote for the All-in-One Managed plan",
        status: TicketStatus::New,
        priority: Priority::Normal,
        channel: Channel::Web,
        assignee: None,
        tags: &["billing"],
        triage_reason: None,
        age_minutes: 3 * HOUR,
        thread: &[(
            0,
            Who::Customer,
            "Good afternoon,\n\nthe Harbour Museum would like to run its own Mastodon server for the museum and its volunteers, roughly 150 accounts. We have no technical staff, so the All-in-One Managed plan sounds right. Could you send us a quote and tell us how long the setup takes?\n\nWith kind regards,\nHarbour Museum",
        )],
    },
    DemoTicket {
        requester: Requester::Contact(2, 2),
        instance: Some(ESTMARK),
        subject: "Verified links (rel=me) not showing on our profiles",
        status: TicketStatus::New,
        priority: Priority::Low,
        channel: Channel::Web,
        assignee: None,
        tags: &[],
        triage_reason: None,
        age_minutes: 20 * HOUR,
        thread: &[(
            0,
            Who::Customer,
            "Hello,\n\nwe added rel=\"me\" links on our website to the library's accounts on social.nl-estmark.example, but the profile still shows the link without the green verified check mark. It has been two days. Is there something we need to do on the server?\n\nAda Lindqvist\nWeb team, National Library of Estmark",
        )],
    },
    DemoTicket {
        requester: Requester::Contact(2, 0),
        instance: Some(ESTMARK),
        subject: "Search returns no results since the upgrade",
        status: TicketStatus::Open,
        priority: Priority::High,
        channel: Channel::Email,
        assignee: Some(PRIYA),
        tags: &["performance", "upgrade"],
        triage_reason: None,
        age_minutes: 30 * HOUR,
        thread: &[
            (
                0,
                Who::Customer,
                "Hello,\n\nsince the upgrade to 4.4 on Tuesday, full-text search on social.nl-estmark.example returns nothing, not even for posts from today. Hashtag search still works.\n\nSigne Aalto\nNational Library of Estmark",
            ),
            (
                90,
                Who::Reply(PRIYA),
                "Hello Signe,\n\nthe ElasticSearch index was not rebuilt after the upgrade. I have started the rebuild (tootctl search deploy); with your 1.2 million posts it takes a few hours. New posts are searchable already.\n\nKind regards,\nPriya Nair",
            ),
            (
                100,
                Who::Note(PRIYA),
                "Missed the reindex step in the 4.4 upgrade checklist for Estmark. Added it to the runbook; check the other 4.4 upgrades from this week.",
            ),
            (
                26 * HOUR,
                Who::Customer,
                "Hi Priya,\n\nrecent posts are found now, but anything older than about March still gives no results. Is the rebuild finished?\n\nSigne",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(1, 1),
        instance: Some(BRACKWATER),
        subject: "Please block a server that harasses our staff",
        status: TicketStatus::Pending,
        priority: Priority::High,
        channel: Channel::Email,
        assignee: Some(JAMIE),
        tags: &["domain-block", "moderation"],
        triage_reason: None,
        age_minutes: 20 * HOUR,
        thread: &[
            (
                0,
                Who::Customer,
                "Hello,\n\nsince the council meeting on Monday, accounts from one server have been flooding the replies of our mayor's account with insults. We reported them, but nothing happens on their side. Can you block that server for our instance?\n\nLucia Ferrante\nCommunications, City of Brackwater",
            ),
            (
                2 * HOUR,
                Who::Reply(JAMIE),
                "Hello Lucia,\n\nwe can. There are two options: limiting the server hides it from your timelines and stops its accounts from reaching people who do not follow them; suspending it cuts all contact, including existing followers of the mayor on that server. Given the situation we suggest limiting first. Shall we go ahead with a limit, or do you prefer a full suspension?\n\nBest regards,\nJamie Ortega",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(1, 0),
        instance: Some(BRACKWATER),
        subject: "Custom domain: handles on brackwater.example",
        status: TicketStatus::OnHold,
        priority: Priority::Normal,
        channel: Channel::Email,
        assignee: Some(PRIYA),
        tags: &["dns"],
        triage_reason: None,
        age_minutes: 8 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Dear support team,\n\nwe would like our accounts to be @mayor@brackwater.example instead of @mayor@mastodon.brackwater.example. Is that possible without moving the server?\n\nOwen Pritchard",
            ),
            (
                4 * HOUR,
                Who::Reply(PRIYA),
                "Hello Owen,\n\nyes. The city's main website must redirect /.well-known/webfinger and /.well-known/host-meta to mastodon.brackwater.example; then we switch the local domain setting. Please forward the attached instructions to your web team and let us know when the redirect is live.\n\nKind regards,\nPriya Nair",
            ),
            (
                2 * DAY,
                Who::Note(PRIYA),
                "Owen called: the city's web agency will deploy the redirect with their next release in about three weeks. On hold until then.",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(0, 1),
        instance: Some(LINDENFELD_RESEARCH),
        subject: "Certificate warning on research.uni-lindenfeld.example",
        status: TicketStatus::Solved,
        priority: Priority::Urgent,
        channel: Channel::Email,
        assignee: Some(ROBIN),
        tags: &["tls"],
        triage_reason: None,
        age_minutes: DAY + 6 * HOUR,
        thread: &[
            (
                0,
                Who::Customer,
                "Hello,\n\nbrowsers show a certificate warning for research.uni-lindenfeld.example since this morning, and the mobile apps refuse to connect. Could you look at it right away?\n\nTobias Brandt",
            ),
            (
                30,
                Who::Reply(ROBIN),
                "Hello Tobias,\n\nthe Let's Encrypt renewal failed because the HTTP challenge was redirected by the university's new firewall rule. I have switched the instance to the DNS challenge and renewed the certificate; it is valid for 90 days and the warning is gone. I am marking this as solved.\n\nBest regards,\nRobin Hale",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(4, 1),
        instance: Some(DIGITAL_COMMONS),
        subject: "Relay subscription stuck on pending",
        status: TicketStatus::Solved,
        priority: Priority::Low,
        channel: Channel::Email,
        assignee: Some(JAMIE),
        tags: &["relay"],
        triage_reason: None,
        age_minutes: 4 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Hi,\n\nwe added a relay a week ago so that our federated timeline is less empty, but it still says 'pending' on the Relays page. Did we do something wrong?\n\nJules Martin",
            ),
            (
                7 * HOUR,
                Who::Reply(JAMIE),
                "Hi Jules,\n\nnothing wrong on your side: that relay only accepts new servers after a manual review by its operator. I have written to them, and the subscription is now enabled. Keep an eye on the storage graph for the first week, as relays bring in a lot of remote media.\n\nBest regards,\nJamie Ortega",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(2, 0),
        instance: Some(ESTMARK),
        subject: "Help with moderation reports after a news story",
        status: TicketStatus::Closed,
        priority: Priority::High,
        channel: Channel::Email,
        assignee: Some(SASHA),
        tags: &["moderation"],
        triage_reason: None,
        age_minutes: 12 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Hello,\n\nafter a national news story about our digitised newspaper archive, we received more than 200 moderation reports in two days, most of them about the same thread. Our two moderators are overwhelmed. Can you help us sort them?\n\nSigne Aalto",
            ),
            (
                3 * HOUR,
                Who::Reply(SASHA),
                "Hello Signe,\n\nwe went through the reports: 180 concern three remote accounts that were brigading the thread; we have suspended them on your instance and resolved those reports in bulk. The remaining 24 are about local posts and need your moderators' judgement; they are listed in the attached summary. Your All-in-One Managed plan includes this kind of help, so do ask again.\n\nKind regards,\nSasha Klein",
            ),
            (
                DAY,
                Who::Customer,
                "This was a huge help, thank you. Our moderators handled the rest this morning.\n\nSigne",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(1, 1),
        instance: Some(BRACKWATER),
        subject: "Backups and data retention for our data protection officer",
        status: TicketStatus::Closed,
        priority: Priority::Normal,
        channel: Channel::Web,
        assignee: Some(PRIYA),
        tags: &["backup"],
        triage_reason: None,
        age_minutes: 15 * DAY,
        thread: &[
            (
                0,
                Who::Customer,
                "Hello,\n\nour data protection officer needs a short description of how mastodon.brackwater.example is backed up: how often, where the backups are stored and how long they are kept.\n\nLucia Ferrante",
            ),
            (
                5 * HOUR,
                Who::Reply(PRIYA),
                "Hello Lucia,\n\nthe database is backed up every night and kept for 30 days; media files are stored in replicated object storage. Both are in our data centre in the EU West region, encrypted at rest. I have attached our data processing summary, which your DPO can file with the agreement.\n\nKind regards,\nPriya Nair",
            ),
        ],
    },
    DemoTicket {
        requester: Requester::Contact(4, 2),
        instance: Some(DIGITAL_COMMONS),
        subject: "Monitoring alert: 502 errors on toot.digitalcommons.example",
        status: TicketStatus::New,
        priority: Priority::Urgent,
        channel: Channel::Api,
        assignee: None,
        tags: &["performance"],
        triage_reason: None,
        age_minutes: 12,
        thread: &[(
            0,
            Who::Customer,
            "Automated report from the Digital Commons status page.\n\nCheck 'toot.digitalcommons.example HTTPS' has failed 5 times in a row: HTTP 502 Bad Gateway from 2 of 3 probe locations. Response time before the failure: 8.4 s (usual: 0.3 s).\n\nReported on behalf of Kai Nakamura.",
        )],
    },
];

/// Writes the whole dataset; returns the number of tickets.
fn seed(conn: &mut AnyConnection, plans: &Plans) -> AppResult<usize> {
    let actor = Actor::System;
    let mut instance_ids: Vec<InstanceId> = Vec::new();
    let mut contact_ids: Vec<Vec<ContactId>> = Vec::new();
    for inst in INSTITUTIONS {
        institution_domain::upsert(
            conn,
            plans,
            &InstitutionInput {
                slug: inst.slug.to_string(),
                name: inst.name.to_string(),
                default_plan: tier(plans, inst.plan),
                status: None,
                domains: Some(vec![inst.domain.to_string()]),
            },
            actor,
        )?;
        for (domain, version, region) in inst.instances {
            let (row, _) = instances::upsert(
                conn,
                plans,
                &InstanceInput {
                    domain: domain.to_string(),
                    institution_slug: inst.slug.to_string(),
                    plan: None,
                    status: None,
                    mastodon_version: Some(version.to_string()),
                    region: Some(region.to_string()),
                    notes: None,
                },
                actor,
            )?;
            instance_ids.push(row.id);
        }
        let mut ids = Vec::new();
        for (n, (email, name)) in inst.contacts.iter().enumerate() {
            let contact = contacts::find_or_create(conn, email, Some(name), actor)?;
            if n == 0 {
                contacts::set_institution_admin(conn, contact.id, true, actor)?;
            }
            ids.push(contact.id);
        }
        contact_ids.push(ids);
    }
    let prospect = contacts::find_or_create(conn, PROSPECT.0, Some(PROSPECT.1), actor)?.id;

    let mut staff: Vec<AgentId> = Vec::new();
    for (email, name, role) in STAFF {
        staff.push(agents::create(conn, email, name, *role, DEMO_PASSWORD, actor)?.id);
    }

    let base = now();
    for demo in TICKETS {
        let requester = match demo.requester {
            Requester::Contact(i, c) => contact_ids[i][c],
            Requester::Prospect => prospect,
        };
        create_ticket(conn, demo, requester, &instance_ids, &staff, base)?;
    }
    Ok(TICKETS.len())
}

fn create_ticket(
    conn: &mut AnyConnection,
    demo: &DemoTicket,
    requester: ContactId,
    instance_ids: &[InstanceId],
    staff: &[AgentId],
    base: NaiveDateTime,
) -> AppResult<()> {
    let actor = Actor::System;
    let created = base - TimeDelta::minutes(demo.age_minutes);
    let mut entries = demo.thread.iter();
    let Some((_, _, first_text)) = entries.next() else {
        return Ok(());
    };
    let mut first = message(Who::Customer, requester, staff, first_text);
    first.subject = Some(demo.subject.to_string());
    first.at = Some(created);
    let (ticket, _) = tickets::create(
        conn,
        TicketInput {
            subject: demo.subject.to_string(),
            requester,
            institution: None,
            institution_from_requester: true,
            instance: demo.instance.map(|i| instance_ids[i]),
            priority: demo.priority,
            category: None,
            channel: demo.channel,
            status: None,
            assignee: demo.assignee.map(|a| staff[a]),
            tags: demo.tags.iter().map(|t| t.to_string()).collect(),
            triage_reason: demo.triage_reason.map(str::to_string),
            first_message: first,
        },
        actor,
    )?;
    let mut last = created;
    for (minutes, who, text) in entries {
        let mut input = message(*who, requester, staff, text);
        if !matches!(who, Who::Note(_)) {
            input.subject = Some(format!("Re: [#{}] {}", ticket.number, demo.subject));
        }
        last = created + TimeDelta::minutes(*minutes);
        input.at = Some(last);
        let author = match who {
            Who::Customer => Actor::Contact(requester),
            Who::Reply(a) | Who::Note(a) => Actor::Agent(staff[*a]),
        };
        tickets::add_message(conn, ticket.id, input, author)?;
    }
    if tickets::get(conn, ticket.id)?.status != demo.status {
        let by = demo.assignee.map_or(actor, |a| Actor::Agent(staff[a]));
        // Status changes happen a little after the last message, not at seeding time.
        let at = (last + TimeDelta::minutes(30)).min(base);
        tickets::change_status_at(conn, ticket.id, demo.status, by, at)?;
    }
    Ok(())
}

fn message(who: Who, requester: ContactId, staff: &[AgentId], text: &str) -> MessageInput {
    let (kind, author) = match who {
        Who::Customer => (MessageKind::Inbound, Author::Contact(requester)),
        Who::Reply(a) => (MessageKind::Reply, Author::Agent(staff[a])),
        Who::Note(a) => (MessageKind::Note, Author::Agent(staff[a])),
    };
    MessageInput::new(kind, author, text, generate_message_id("tusk.example"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::{contacts as contacts_table, events, messages};
    use crate::db::{Db, DbOptions};
    use std::collections::HashSet;

    fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("demo.db").display());
        let db = Db::connect(&url, &DbOptions::default()).unwrap();
        db.migrate().unwrap();
        (dir, db)
    }

    fn plans() -> Plans {
        Plans::new(vec!["managed".into(), "single".into()], "single")
    }

    /// status, priority, assignee, needs_triage, instance
    type TicketRow = (TicketStatus, Priority, Option<i64>, bool, Option<i64>);

    fn counts(conn: &mut AnyConnection) -> (i64, i64, i64, i64) {
        (
            institutions::table.count().get_result(conn).unwrap(),
            tickets_table::table.count().get_result(conn).unwrap(),
            messages::table.count().get_result(conn).unwrap(),
            events::table.count().get_result(conn).unwrap(),
        )
    }

    #[test]
    fn data_is_consistent() {
        let instance_count: usize = INSTITUTIONS.iter().map(|i| i.instances.len()).sum();
        for t in TICKETS {
            if let Some(i) = t.instance {
                assert!(i < instance_count, "{}", t.subject);
            }
            if let Requester::Contact(i, c) = t.requester {
                assert!(c < INSTITUTIONS[i].contacts.len(), "{}", t.subject);
            }
            assert!(t.thread.windows(2).all(|w| w[0].0 < w[1].0), "{}", t.subject);
            assert!(t.thread.last().is_some_and(|e| e.0 < t.age_minutes), "{}", t.subject);
            assert!(matches!(t.thread[0].1, Who::Customer));
        }
    }

    #[test]
    fn seeds_an_empty_database_once() {
        let (_dir, db) = sqlite();
        let mut conn = db.get().unwrap();
        let plans = plans();
        let outcome = seed_if_empty(&mut conn, &plans).unwrap();
        assert_eq!(outcome, DemoOutcome::Seeded { tickets: TICKETS.len() });

        let rows: Vec<TicketRow> = tickets_table::table
            .select((
                tickets_table::status,
                tickets_table::priority,
                tickets_table::assignee_id,
                tickets_table::needs_triage,
                tickets_table::instance_id,
            ))
            .load(&mut *conn)
            .unwrap();
        assert_eq!(rows.len(), TICKETS.len());
        let statuses: HashSet<_> = rows.iter().map(|r| r.0).collect();
        let priorities: HashSet<_> = rows.iter().map(|r| r.1).collect();
        assert_eq!(statuses.len(), TicketStatus::ALL.len(), "{statuses:?}");
        assert_eq!(priorities.len(), Priority::ALL.len(), "{priorities:?}");
        assert!(rows.iter().any(|r| r.2.is_none()), "some tickets are unassigned");
        assert!(rows.iter().any(|r| r.3 && r.4.is_none()), "one ticket needs triage");
        for demo in TICKETS {
            let (status, priority): (TicketStatus, Priority) = tickets_table::table
                .filter(tickets_table::subject.eq(demo.subject))
                .select((tickets_table::status, tickets_table::priority))
                .first(&mut *conn)
                .unwrap();
            assert_eq!((status, priority), (demo.status, demo.priority), "{}", demo.subject);
        }
        let kinds: HashSet<MessageKind> =
            messages::table.select(messages::kind).load(&mut *conn).unwrap().into_iter().collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        let message_count: i64 = messages::table.count().get_result(&mut *conn).unwrap();
        assert_eq!(message_count, TICKETS.iter().map(|t| t.thread.len() as i64).sum::<i64>());
        let plans_used: HashSet<String> =
            institutions::table.select(institutions::default_plan).load(&mut *conn).unwrap().into_iter().collect();
        assert_eq!(plans_used.len(), 2, "both tiers: {plans_used:?}");
        let admins: i64 = contacts_table::table
            .filter(contacts_table::is_institution_admin.eq(true))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(admins, INSTITUTIONS.len() as i64);

        let admin = agents::authenticate(&mut conn, DEMO_ADMIN_EMAIL, DEMO_PASSWORD).unwrap().unwrap();
        assert_eq!(admin.role, Role::Admin);
        let agent = agents::authenticate(&mut conn, DEMO_AGENT_EMAIL, DEMO_PASSWORD).unwrap().unwrap();
        assert_eq!(agent.role, Role::Agent);
        assert!(agents::authenticate(&mut conn, DEMO_ADMIN_EMAIL, "wrong password").unwrap().is_none());

        let before = counts(&mut conn);
        assert_eq!(seed_if_empty(&mut conn, &plans).unwrap(), DemoOutcome::AlreadyPopulated);
        assert_eq!(counts(&mut conn), before);
    }

    #[test]
    fn a_database_with_tickets_or_institutions_is_left_alone() {
        let (_dir, db) = sqlite();
        let mut conn = db.get().unwrap();
        let plans = plans();
        institution_domain::upsert(
            &mut conn,
            &plans,
            &InstitutionInput { slug: "existing".into(), name: "Existing Customer".into(), ..Default::default() },
            Actor::System,
        )
        .unwrap();
        let before = counts(&mut conn);
        assert_eq!(seed_if_empty(&mut conn, &plans).unwrap(), DemoOutcome::AlreadyPopulated);
        assert_eq!(counts(&mut conn), before);
    }
}
