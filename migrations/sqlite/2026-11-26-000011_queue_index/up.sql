-- The open tickets by assignee, and the open unassigned tickets, newest
-- activity first: the console's "My open tickets" and "Unassigned" queues
-- and their counts. (The PostgreSQL migration also adds extended
-- statistics, which SQLite does not have.)
CREATE INDEX tickets_open_queue ON tickets (assignee_id, updated_at, id)
    WHERE status IN ('new', 'open', 'on_hold');
CREATE INDEX tickets_unassigned_queue ON tickets (updated_at, id)
    WHERE assignee_id IS NULL AND status IN ('new', 'open', 'on_hold');
