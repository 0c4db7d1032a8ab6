"""The editor's files: reading and writing text, languages, crash recovery."""
