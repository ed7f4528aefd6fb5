DROP INDEX tickets_triage_status;
DROP INDEX ticket_sla_backlog;
DROP INDEX tickets_backlog;
CREATE INDEX tickets_report_created ON tickets (created_at, id, institution_id, instance_id, assignee_id, status);
CREATE INDEX tickets_solved ON tickets (solved_at);
DROP INDEX ticket_sla_solved;
DROP INDEX ticket_sla_report;
CREATE INDEX ticket_sla_report ON ticket_sla (ticket_id, tier, priority, first_response_outcome,
    first_response_due_at, first_response_business_secs, resolution_outcome, resolution_due_at,
    resolution_business_secs);
ALTER TABLE ticket_sla DROP COLUMN solved_at;
ALTER TABLE ticket_sla DROP COLUMN opened_at;
