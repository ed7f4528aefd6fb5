DROP TRIGGER ticket_tags_follow_ticket;
DROP TRIGGER ticket_tags_from_ticket;
ALTER TABLE ticket_tags DROP COLUMN status;
ALTER TABLE ticket_tags DROP COLUMN updated_at;
