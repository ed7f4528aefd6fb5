DROP INDEX tickets_unassigned_queue;
DROP INDEX tickets_open_queue;
