"""Ordering's tables, repositories and message mapping."""
