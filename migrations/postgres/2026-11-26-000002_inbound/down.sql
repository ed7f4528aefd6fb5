ALTER TABLE tickets DROP COLUMN follow_up_of_id;
DROP INDEX mail_outbox_recipients_kind;
DROP TABLE inbound_messages;
