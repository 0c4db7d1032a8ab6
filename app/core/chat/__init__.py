"""Chats: the sqlite store, its schema and rescue, export, search, and the context budget."""
