DROP TABLE magic_links;
