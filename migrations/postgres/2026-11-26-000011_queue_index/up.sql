-- The console's "My open tickets" and "Unassigned" queues: open tickets by
-- assignee (NULL for unassigned), newest activity first. A page walks 51
-- entries of this small index instead of sorting every open ticket of the
-- assignee (over a million tickets: 4,500 unassigned, 8 ms a page).
CREATE INDEX tickets_open_queue ON tickets (assignee_id, updated_at, id)
    WHERE status IN ('new', 'open', 'on_hold');

-- Assignee and status are far from independent (almost every unassigned
-- ticket is new or open); without this the planner estimates queues 30
-- times too small and sorts them in full. Filled by the next ANALYZE.
CREATE STATISTICS tickets_assignee_status_mcv (mcv) ON assignee_id, status FROM tickets;
