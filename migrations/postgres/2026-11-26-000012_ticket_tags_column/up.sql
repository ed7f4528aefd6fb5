-- A ticket's tags as one text, ' ' + each tag + ' ' in sorted order (so
-- ' federation ' finds the tag, never a part of one), beside its rows in
-- ticket_tags, which stay the record. Written with them in the same
-- transaction. The ticket list reads them with the row instead of
-- aggregating ticket_tags once per row.
ALTER TABLE tickets ADD COLUMN tags TEXT NOT NULL DEFAULT '';
UPDATE tickets t SET tags = s.tags
FROM (SELECT ticket_id, ' ' || string_agg(tag, ' ' ORDER BY tag) || ' ' AS tags
      FROM ticket_tags GROUP BY ticket_id) s
WHERE s.ticket_id = t.id;

-- The keyset orders of the ticket list, and its orders within one
-- institution or instance, carry every column its filters read (tags
-- included), so the list finds a page's ids by an index-only scan and
-- reads only those rows from the table. Before, a status, priority or tag
-- filter fetched a table row for every index entry it skipped: a tag filter
-- over 100,000 tickets visited 1,600 rows and probed ticket_tags 600 times
-- for a page of 50. (A tag set is at most 1,000 bytes, so an entry stays far
-- below the B-tree's size limit.)
DROP INDEX tickets_updated_id;
CREATE INDEX tickets_updated_id ON tickets (updated_at, id)
    INCLUDE (status, priority, assignee_id, needs_triage, institution_id, instance_id, tags);
DROP INDEX tickets_created_id;
CREATE INDEX tickets_created_id ON tickets (created_at, id)
    INCLUDE (status, priority, assignee_id, needs_triage, institution_id, instance_id, tags);
DROP INDEX tickets_priority_rank;
CREATE INDEX tickets_priority_rank ON tickets
    ((CASE priority WHEN 'low' THEN 0 WHEN 'normal' THEN 1 WHEN 'high' THEN 2 ELSE 3 END), id)
    INCLUDE (status, priority, assignee_id, needs_triage, institution_id, instance_id, tags);
DROP INDEX tickets_institution_updated;
CREATE INDEX tickets_institution_updated ON tickets (institution_id, updated_at, id)
    INCLUDE (status, priority, assignee_id, needs_triage, instance_id, tags);
DROP INDEX tickets_instance_updated;
CREATE INDEX tickets_instance_updated ON tickets (instance_id, updated_at, id)
    INCLUDE (status, priority, assignee_id, needs_triage, institution_id, tags);
