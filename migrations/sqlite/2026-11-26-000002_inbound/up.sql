-- Inbound email: a receipt for every message received (raw blob first),
-- its outcome and processing trace; quarantined messages are receipts with
-- outcome 'quarantined'. Follow-up tickets reference the ticket they follow.

CREATE TABLE inbound_messages (
    id INTEGER PRIMARY KEY,
    raw_blob TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('http', 'ingest', 'replay')),
    origin TEXT,
    stable_id TEXT,
    from_address TEXT,
    subject TEXT,
    outcome TEXT NOT NULL DEFAULT 'received'
        CHECK (outcome IN ('received', 'created', 'appended', 'duplicate', 'auto_reply', 'bounce', 'quarantined', 'discarded')),
    reason TEXT,
    ticket_id INTEGER REFERENCES tickets (id),
    message_ref INTEGER REFERENCES messages (id),
    trace TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    received_at TIMESTAMP NOT NULL,
    processed_at TIMESTAMP
);
CREATE INDEX inbound_messages_outcome ON inbound_messages (outcome, id);
CREATE INDEX inbound_messages_stable_id ON inbound_messages (stable_id);
CREATE INDEX inbound_messages_from_received ON inbound_messages (from_address, received_at);
CREATE INDEX inbound_messages_ticket ON inbound_messages (ticket_id);

-- The per-sender acknowledgement rate limit looks rows up by recipient.
CREATE INDEX mail_outbox_recipients_kind ON mail_outbox (recipients, kind, created_at);

ALTER TABLE tickets ADD COLUMN follow_up_of_id INTEGER REFERENCES tickets (id);
