DROP INDEX ticket_sla_open_due;
DROP TABLE login_attempts;
DROP TABLE web_sessions;
