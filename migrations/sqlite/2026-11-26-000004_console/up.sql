-- Agent console and portal sign-in (issue 6): server-side sessions and the
-- record of sign-in attempts used for rate limiting. Timestamps are UTC.

-- One row per signed-in browser. The cookie holds a random token; only its
-- SHA-256 is stored, so a copy of the database does not let anyone in.
CREATE TABLE web_sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    -- 'agent' (console) or 'contact' (customer portal).
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('agent', 'contact')),
    principal_id BIGINT NOT NULL,
    -- Synchronizer token that every form of this session must echo.
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_principal ON web_sessions (principal_kind, principal_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- Sign-in attempts per key ('email:<address>' or 'ip:<address>').
CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY,
    attempt_key TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX login_attempts_key_time ON login_attempts (attempt_key, created_at);

-- The console's "due soon / breached" queue and its count: open clocks
-- (state <> 'done'), breached first, then by due instant. A partial index
-- keeps both cheap with a million tickets.
CREATE INDEX ticket_sla_open_due ON ticket_sla (breached, next_due_at) WHERE state <> 'done';
