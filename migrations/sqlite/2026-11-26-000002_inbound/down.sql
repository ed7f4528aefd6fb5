ALTER TABLE tickets DROP COLUMN follow_up_of_id;
DROP TABLE inbound_messages;
