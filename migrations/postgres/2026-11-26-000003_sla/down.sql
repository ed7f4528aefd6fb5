DROP TABLE sla_notices;
DROP TABLE sla_segments;
DROP TABLE ticket_sla;
