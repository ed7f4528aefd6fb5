-- SLA clocks (issue 5). One row per ticket with the policy snapshot applied
-- and the computed state; append-only clock segments; one row per notice
-- (warning threshold or breach) so that several evaluators never send one
-- twice. Timestamps are UTC.

CREATE TABLE ticket_sla (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    tier TEXT NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    -- PolicySnapshot as JSON: targets, thresholds, pause statuses, calendar.
    policy TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'breached', 'done')),
    first_response_due_at TIMESTAMP,
    next_response_due_at TIMESTAMP,
    resolution_due_at TIMESTAMP,
    -- Earliest due instant of a clock still counting (queues, evaluator).
    next_due_at TIMESTAMP,
    -- Earliest instant a warning threshold or target is crossed (evaluator).
    next_check_at TIMESTAMP,
    first_response_business_secs BIGINT,
    resolution_business_secs BIGINT,
    resolution_elapsed_secs BIGINT NOT NULL DEFAULT 0,
    paused_secs BIGINT NOT NULL DEFAULT 0,
    breached BOOLEAN NOT NULL DEFAULT FALSE,
    applied_at TIMESTAMP NOT NULL,
    computed_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_sla_next_check ON ticket_sla (next_check_at);
CREATE INDEX ticket_sla_next_due ON ticket_sla (next_due_at);

CREATE TABLE sla_segments (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    metric TEXT NOT NULL CHECK (metric IN ('first_response', 'next_response', 'resolution')),
    cycle INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('running', 'outside_hours', 'paused', 'breached')),
    status TEXT,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX sla_segments_ticket ON sla_segments (ticket_id, metric, cycle, started_at);

CREATE TABLE sla_notices (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    metric TEXT NOT NULL CHECK (metric IN ('first_response', 'next_response', 'resolution')),
    cycle INTEGER NOT NULL,
    -- Percent of the target: a warning threshold, or 100 for the breach.
    threshold INTEGER NOT NULL,
    due_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (ticket_id, metric, cycle, threshold)
);
