-- JSON API (issue 7): API tokens, and the indexes the ticket list
-- (domain::ticket_query, shared by the API and the console queues) needs to
-- page through a million tickets by keyset without sorting.

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    -- SHA-256 (hex) of the token; the token itself is shown once and never stored.
    token_hash TEXT NOT NULL UNIQUE,
    -- Space-separated scopes, e.g. `tickets:read tickets:write`.
    scopes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

-- Keyset orders: (key, id) for each sort of the ticket list. The two time
-- orders also carry the columns queues filter on most, so rows that do not
-- match are skipped without reading the table.
CREATE INDEX tickets_updated_id ON tickets (updated_at, id, status, priority, assignee_id);
CREATE INDEX tickets_created_id ON tickets (created_at, id, status, priority, assignee_id);
CREATE INDEX tickets_priority_rank ON tickets ((CASE priority WHEN 'low' THEN 0 WHEN 'normal' THEN 1 WHEN 'high' THEN 2 ELSE 3 END), id);
-- Filters that select few tickets, in the default order.
CREATE INDEX tickets_institution_updated ON tickets (institution_id, updated_at, id);
CREATE INDEX tickets_instance_updated ON tickets (instance_id, updated_at, id);
CREATE INDEX tickets_requester_updated ON tickets (requester_id, updated_at, id);
CREATE INDEX tickets_assignee_updated ON tickets (assignee_id, updated_at, id);
CREATE INDEX tickets_triage_updated ON tickets (needs_triage, updated_at, id);
