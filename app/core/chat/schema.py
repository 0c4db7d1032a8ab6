"""The chat store's schema: migrations in order, and the optional search index.

``PRAGMA user_version`` counts the migrations applied; ``MIGRATIONS[i]``
takes a database from version ``i`` to ``i + 1``.
"""

_V1 = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

_V2 = """
ALTER TABLE conversations ADD COLUMN system_prompt TEXT;
ALTER TABLE conversations ADD COLUMN sampling_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE conversations ADD COLUMN deleted_at REAL;
ALTER TABLE messages ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN stop_reason TEXT;
ALTER TABLE messages ADD COLUMN stats_json TEXT;
ALTER TABLE messages ADD COLUMN position INTEGER;
UPDATE messages SET position = (
    SELECT COUNT(*) FROM messages AS earlier
    WHERE earlier.conversation_id = messages.conversation_id
      AND (earlier.created_at, earlier.id) < (messages.created_at, messages.id)
);
CREATE UNIQUE INDEX messages_by_position ON messages(conversation_id, position);
CREATE INDEX conversations_by_updated ON conversations(updated_at);
CREATE INDEX conversations_by_deleted ON conversations(deleted_at) WHERE deleted_at IS NOT NULL;
"""

# Schema version N is reached by running MIGRATIONS[N - 1]; never edit a released step.
MIGRATIONS = [_V1, _V2]

# Columns every version has: a file at version 1 or later without them is not Fimble's.
REQUIRED_COLUMNS = {
    "conversations": {"id", "title", "created_at", "updated_at"},
    "messages": {"id", "conversation_id", "role", "content", "created_at"},
}

# The search index is not a migration: whether it can exist depends on the sqlite build.
FTS_TABLE = """
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    content, content='messages', content_rowid='id', tokenize='trigram case_sensitive 0'
);
"""
FTS_TRIGGERS = {
    "messages_fts_insert": """
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;""",
    "messages_fts_delete": """
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
        END;""",
    "messages_fts_update": """
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;""",
}
