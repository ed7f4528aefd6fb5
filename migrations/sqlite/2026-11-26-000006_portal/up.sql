-- Customer portal (issue 7): passwordless sign-in links. Timestamps are UTC.

-- One row per sign-in link sent. The link carries a random 256-bit token;
-- only its SHA-256 is stored. A link works once (used_at) and until
-- expires_at.
CREATE TABLE magic_links (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX magic_links_contact ON magic_links (contact_id, created_at);
CREATE INDEX magic_links_expires ON magic_links (expires_at);
