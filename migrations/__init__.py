# Holds the D1 migrations (NNNN_name.sql) as package data, so an installed service finds them;
# wrangler reads the same folder and ignores this file.
