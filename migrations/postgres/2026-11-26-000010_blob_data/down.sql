DROP TABLE blob_data;
