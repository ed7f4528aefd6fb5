-- The console's "My open tickets" queue (and the API's open tickets of one
-- assignee): open tickets by assignee, newest activity first. A page walks
-- 51 entries instead of sorting every open ticket of the assignee.
CREATE INDEX tickets_open_queue ON tickets (assignee_id, updated_at, id)
    WHERE status IN ('new', 'open', 'on_hold');

-- The "Unassigned" queue. Its own index: `assignee_id IS NULL` is not an
-- equality, so the planner cannot read the one above in `updated_at` order
-- for it, and sorted every open unassigned ticket (4,500 over a million
-- tickets: 8 ms a page).
CREATE INDEX tickets_unassigned_queue ON tickets (updated_at, id)
    WHERE assignee_id IS NULL AND status IN ('new', 'open', 'on_hold');

-- Assignee and status are far from independent (almost every unassigned
-- ticket is new or open); without this the planner estimates queues 30
-- times too small and sorts them in full. Filled by the next ANALYZE.
CREATE STATISTICS tickets_assignee_status_mcv (mcv) ON assignee_id, status FROM tickets;
