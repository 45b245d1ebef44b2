"""Storage behind small interfaces: SQLite file by default, PostgreSQL / Redis selected by URL."""
