DROP TRIGGER ticket_tags_follow_ticket;
DROP TRIGGER ticket_tags_from_ticket;
DROP INDEX ticket_tags_tag_updated;
ALTER TABLE ticket_tags DROP COLUMN status;
ALTER TABLE ticket_tags DROP COLUMN updated_at;
