-- Tusk foundation schema (SQLite). Keep the same semantics as migrations/postgres.
-- Ids are 64-bit (INTEGER PRIMARY KEY is a 64-bit rowid); timestamps are UTC.

CREATE TABLE institutions (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    default_plan TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE institution_domains (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id) ON DELETE CASCADE,
    domain TEXT NOT NULL UNIQUE
);
CREATE INDEX institution_domains_institution ON institution_domains (institution_id);

CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    plan TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('provisioning', 'active', 'suspended', 'decommissioned')),
    mastodon_version TEXT,
    region TEXT,
    notes TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX instances_institution ON instances (institution_id);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    institution_id INTEGER REFERENCES institutions (id),
    is_institution_admin BOOLEAN NOT NULL DEFAULT 0,
    blocked BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX contacts_institution ON contacts (institution_id);

CREATE TABLE agents (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'manager', 'admin')),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ticket_number', 1000);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    number BIGINT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('new', 'open', 'pending', 'on_hold', 'solved', 'closed')),
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'web', 'api')),
    requester_id INTEGER NOT NULL REFERENCES contacts (id),
    institution_id INTEGER REFERENCES institutions (id),
    instance_id INTEGER REFERENCES instances (id),
    assignee_id INTEGER REFERENCES agents (id),
    needs_triage BOOLEAN NOT NULL DEFAULT 0,
    triage_reason TEXT,
    merged_into_id INTEGER REFERENCES tickets (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    first_response_at TIMESTAMP,
    last_customer_message_at TIMESTAMP,
    solved_at TIMESTAMP,
    closed_at TIMESTAMP
);
CREATE INDEX tickets_status_updated ON tickets (status, updated_at, id);
CREATE INDEX tickets_assignee_status ON tickets (assignee_id, status, updated_at);
CREATE INDEX tickets_institution_created ON tickets (institution_id, created_at);
CREATE INDEX tickets_instance_created ON tickets (instance_id, created_at);
CREATE INDEX tickets_requester ON tickets (requester_id);
CREATE INDEX tickets_created ON tickets (created_at);

CREATE TABLE ticket_tags (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_tag ON ticket_tags (tag, ticket_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    kind TEXT NOT NULL CHECK (kind IN ('inbound', 'reply', 'note')),
    author_contact_id INTEGER REFERENCES contacts (id),
    author_agent_id INTEGER REFERENCES agents (id),
    from_address TEXT,
    to_addresses TEXT,
    cc_addresses TEXT,
    subject TEXT,
    body_text TEXT NOT NULL,
    body_html TEXT,
    body_html_sanitized TEXT,
    message_id TEXT NOT NULL UNIQUE,
    in_reply_to TEXT,
    reference_ids TEXT,
    raw_blob TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_ticket_created ON messages (ticket_id, created_at, id);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id),
    sha256 TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content_id TEXT,
    inline BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);
CREATE INDEX attachments_sha256 ON attachments (sha256);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER REFERENCES tickets (id),
    subject_type TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('system', 'agent', 'contact', 'api')),
    actor_id BIGINT,
    field TEXT,
    old_value TEXT,
    new_value TEXT,
    data TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX events_ticket ON events (ticket_id, id);
CREATE INDEX events_subject ON events (subject_type, subject_id, id);
CREATE INDEX events_action_created ON events (action, created_at);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ticket_id INTEGER REFERENCES tickets (id),
    message_ref INTEGER REFERENCES messages (id),
    recipients TEXT NOT NULL,
    rfc_message_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at, id);
CREATE INDEX mail_outbox_ticket ON mail_outbox (ticket_id);

CREATE TABLE search_outbox (
    id INTEGER PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX search_outbox_due ON search_outbox (next_attempt_at, id);
