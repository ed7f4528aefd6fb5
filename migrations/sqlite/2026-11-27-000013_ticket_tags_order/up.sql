-- Each tag row carries its ticket's updated_at and status, so that a page of
-- a tag in the default order (most recently updated first) is read from one
-- index of ticket_tags: over 100,000 tickets, the newest 51 open or pending
-- tickets with a tag took 1,600 entries of the tickets index (and as many
-- probes of ticket_tags) to find, and take 51 entries of this one. Triggers
-- keep the copies right, whatever statement changes a ticket or adds a tag;
-- the application never writes them.
ALTER TABLE ticket_tags ADD COLUMN updated_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
ALTER TABLE ticket_tags ADD COLUMN status TEXT NOT NULL DEFAULT '';
UPDATE ticket_tags SET
    updated_at = (SELECT t.updated_at FROM tickets t WHERE t.id = ticket_tags.ticket_id),
    status = (SELECT t.status FROM tickets t WHERE t.id = ticket_tags.ticket_id);
CREATE INDEX ticket_tags_tag_updated ON ticket_tags (tag, updated_at, ticket_id, status);

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
