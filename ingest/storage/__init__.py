"""SQLite storage: connection setup, migrations, and the single writer per database file."""
