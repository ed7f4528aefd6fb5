-- Each tag row carries its ticket's updated_at and status (the same columns
-- as on PostgreSQL, kept right by triggers; the application never writes
-- them). PostgreSQL reads a tag's page in the default order from an index
-- over them; SQLite finds that page from the tickets' index and needs no
-- such index.
ALTER TABLE ticket_tags ADD COLUMN updated_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
ALTER TABLE ticket_tags ADD COLUMN status TEXT NOT NULL DEFAULT '';
UPDATE ticket_tags SET
    updated_at = (SELECT t.updated_at FROM tickets t WHERE t.id = ticket_tags.ticket_id),
    status = (SELECT t.status FROM tickets t WHERE t.id = ticket_tags.ticket_id);

-- A new tag row takes its ticket's values.
CREATE TRIGGER ticket_tags_from_ticket AFTER INSERT ON ticket_tags FOR EACH ROW
BEGIN
    UPDATE ticket_tags SET
        updated_at = (SELECT t.updated_at FROM tickets t WHERE t.id = NEW.ticket_id),
        status = (SELECT t.status FROM tickets t WHERE t.id = NEW.ticket_id)
    WHERE ticket_id = NEW.ticket_id AND tag = NEW.tag;
END;

-- A ticket's new updated_at or status reaches its tag rows.
CREATE TRIGGER ticket_tags_follow_ticket AFTER UPDATE OF updated_at, status ON tickets FOR EACH ROW
    WHEN OLD.updated_at IS NOT NEW.updated_at OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE ticket_tags SET updated_at = NEW.updated_at, status = NEW.status WHERE ticket_id = NEW.id;
END;
