-- SLA report facts (issue 9), and a console queue count (issue 6): the two ticket instants a report ranges over,
-- copied onto the ticket's SLA row whenever the clocks are computed, so that
-- the report scans one narrow index of ticket_sla, in the order of opening,
-- instead of joining every ticket of the year to its SLA row.

-- When the ticket was opened (tickets.created_at; never changes).
ALTER TABLE ticket_sla ADD COLUMN opened_at TIMESTAMP;
-- When it was last solved (tickets.solved_at; NULL while open).
ALTER TABLE ticket_sla ADD COLUMN solved_at TIMESTAMP;

UPDATE ticket_sla SET
    opened_at = (SELECT t.created_at FROM tickets t WHERE t.id = ticket_sla.ticket_id),
    solved_at = (SELECT t.solved_at FROM tickets t WHERE t.id = ticket_sla.ticket_id);

-- Covers the compliance, percentile and weekly sections (tier and priority
-- groupings read nothing else) and, newest first, the breach list.
DROP INDEX ticket_sla_report;
CREATE INDEX ticket_sla_report ON ticket_sla (opened_at, ticket_id, tier, priority, first_response_outcome,
    first_response_due_at, first_response_business_secs, resolution_outcome, resolution_due_at,
    resolution_business_secs);
-- Covers the weekly count of solved tickets per tier.
CREATE INDEX ticket_sla_solved ON ticket_sla (solved_at, tier);
DROP INDEX tickets_solved;
-- The report no longer starts from tickets: the index made for that goes.
DROP INDEX tickets_report_created;
-- The backlog section: open tickets by age, and by tier as their SLA rows
-- say, each counted from an index alone.
CREATE INDEX tickets_backlog ON tickets (status, created_at);
CREATE INDEX ticket_sla_backlog ON ticket_sla (opened_at, tier) WHERE state <> 'done';

-- The console's triage count (open tickets flagged for triage, capped at
-- 1,001) from an index alone; the (needs_triage, updated_at, id) index of
-- the triage list made it visit up to a thousand rows per page view.
CREATE INDEX tickets_triage_status ON tickets (needs_triage, status);
