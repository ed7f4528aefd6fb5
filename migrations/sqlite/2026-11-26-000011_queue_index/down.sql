DROP INDEX tickets_open_queue;
