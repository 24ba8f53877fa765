"""Rating's use cases: command handlers and queries as plain functions of a request and a unit of work."""
