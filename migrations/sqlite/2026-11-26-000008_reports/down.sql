DROP TABLE report_deliveries;
DROP INDEX tickets_solved;
DROP INDEX tickets_report_created;
DROP INDEX ticket_sla_report;
ALTER TABLE ticket_sla DROP COLUMN resolution_outcome;
ALTER TABLE ticket_sla DROP COLUMN first_response_outcome;
