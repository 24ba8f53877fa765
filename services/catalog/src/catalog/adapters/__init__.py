"""Catalog's adapters: its tables, repositories, read queries and the mapping of its events to messages."""
