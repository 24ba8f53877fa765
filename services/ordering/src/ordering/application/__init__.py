"""Ordering's command and query handlers, and the saga's driver."""
