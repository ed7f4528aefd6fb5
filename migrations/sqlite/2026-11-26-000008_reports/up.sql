-- SLA reports (issue 9). Per-metric outcomes stored with each ticket's SLA
-- row, so that compliance is aggregated in SQL; covering indexes for the
-- report queries; and one row per weekly summary period sent, unique, so
-- that several `tusk serve` processes send each summary once.

-- Outcome of the first-response and resolution clocks when last computed:
-- running, paused, overdue, met, breached; NULL when the policy sets no
-- target (or the row predates this migration: `tusk sla recompute` fills it).
ALTER TABLE ticket_sla ADD COLUMN first_response_outcome TEXT;
ALTER TABLE ticket_sla ADD COLUMN resolution_outcome TEXT;

-- The report reads these columns only, so the wide rows (policy JSON,
-- subjects) are never visited.
CREATE INDEX ticket_sla_report ON ticket_sla (ticket_id, tier, priority, first_response_outcome,
    first_response_due_at, first_response_business_secs, resolution_outcome, resolution_due_at,
    resolution_business_secs);
CREATE INDEX tickets_report_created ON tickets (created_at, id, institution_id, instance_id, assignee_id, status);
CREATE INDEX tickets_solved ON tickets (solved_at);

CREATE TABLE report_deliveries (
    id INTEGER PRIMARY KEY,
    -- Which scheduled report, e.g. `sla_weekly`.
    report TEXT NOT NULL,
    -- Start of the reported period (UTC), e.g. Monday 00:00 local time.
    period_start TIMESTAMP NOT NULL,
    period_end TIMESTAMP NOT NULL,
    recipients INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (report, period_start)
);
