-- A ticket's tags as one text, ' ' + each tag + ' ' in sorted order (so
-- ' federation ' finds the tag, never a part of one), beside its rows in
-- ticket_tags, which stay the record. Written with them in the same
-- transaction. The ticket list reads them with the row instead of
-- aggregating ticket_tags once per row. (The PostgreSQL migration also
-- widens the list's indexes; SQLite reads the row at each index entry.)
ALTER TABLE tickets ADD COLUMN tags TEXT NOT NULL DEFAULT '';
UPDATE tickets SET tags = ' ' || (
    SELECT group_concat(tag, ' ') FROM (
        SELECT tag FROM ticket_tags WHERE ticket_tags.ticket_id = tickets.id ORDER BY tag
    )
) || ' '
WHERE id IN (SELECT ticket_id FROM ticket_tags);
