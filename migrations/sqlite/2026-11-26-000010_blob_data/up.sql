-- Small blobs (raw mail and attachments up to mail.inline_blob_max_bytes) are
-- kept in the database, written in the same transaction as the receipt that
-- refers to them: one row instead of one file (an inode, a rename and a
-- directory entry) per message. Larger blobs stay under data_dir/blobs.
CREATE TABLE blob_data (
    sha256 TEXT PRIMARY KEY NOT NULL,
    size_bytes BIGINT NOT NULL,
    data BLOB NOT NULL
);
