//! A small world for web tests: two institutions with an instance each,
//! customers, one agent of each role, and a ticket per institution.

use tusk::db::models::{Agent, Contact, Instance, Institution, Ticket};
use tusk::db::{AnyConnection, Channel, MessageKind, Priority, Role};
use tusk::domain::instances::{self, InstanceInput};
use tusk::domain::institutions::{self, InstitutionInput};
use tusk::domain::tickets::{self, Author, MessageInput, TicketInput};
use tusk::domain::{Actor, agents, contacts};

pub const PASSWORD: &str = "correct horse battery";

pub struct Org {
    pub institution: Institution,
    pub instance: Instance,
    pub customer: Contact,
    pub ticket: Ticket,
}

pub struct World {
    pub admin: Agent,
    pub manager: Agent,
    pub agent: Agent,
    pub lyon: Org,
    pub oslo: Org,
}

pub fn org(
    conn: &mut AnyConnection,
    slug: &str,
    name: &str,
    domain: &str,
    plan: &str,
    subject: &str,
    body: &str,
) -> Org {
    let plans = super::plans();
    let (institution, _) = institutions::upsert(
        conn,
        &plans,
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
    let (instance, _) = instances::upsert(
        conn,
        &plans,
        &InstanceInput {
            domain: format!("social.{domain}"),
            institution_slug: slug.into(),
            mastodon_version: Some("4.3.2".into()),
            ..Default::default()
        },
        Actor::System,
    )
    .unwrap();
    let customer =
        contacts::find_or_create(conn, &format!("staff@{domain}"), Some("Staff Member"), Actor::System).unwrap();
    let ticket = ticket(conn, &customer, Some(&instance), subject, body);
    Org { institution, instance, customer, ticket }
}

pub fn ticket(
    conn: &mut AnyConnection,
    customer: &Contact,
    instance: Option<&Instance>,
    subject: &str,
    body: &str,
) -> Ticket {
    let id = tickets::generate_message_id("test.example");
    let (ticket, _) = tickets::create(
        conn,
        TicketInput {
            subject: subject.into(),
            requester: customer.id,
            institution: None,
            institution_from_requester: true,
            instance: instance.map(|i| i.id),
            priority: Priority::Normal,
            category: None,
            channel: Channel::Email,
            status: None,
            assignee: None,
            tags: vec![],
            triage_reason: None,
            first_message: MessageInput::new(MessageKind::Inbound, Author::Contact(customer.id), body, id),
        },
        Actor::Contact(customer.id),
    )
    .unwrap();
    ticket
}

pub fn world(conn: &mut AnyConnection) -> World {
    let admin = agents::create(conn, "admin@tusk.example", "Ada Admin", Role::Admin, PASSWORD, Actor::System).unwrap();
    let manager =
        agents::create(conn, "manager@tusk.example", "Mia Manager", Role::Manager, PASSWORD, Actor::System).unwrap();
    let agent = agents::create(conn, "agent@tusk.example", "Arne Agent", Role::Agent, PASSWORD, Actor::System).unwrap();
    let lyon = org(
        conn,
        "uni-lyon",
        "Université de Lyon",
        "univ-lyon.example",
        "managed",
        "Federation relay stopped",
        "Our posts no longer reach the relay since Monday.",
    );
    let oslo = org(
        conn,
        "oslo-met",
        "Oslo Met",
        "oslomet.example",
        "single",
        "Invoice question",
        "Could you send the invoice again?",
    );
    World { admin, manager, agent, lyon, oslo }
}
