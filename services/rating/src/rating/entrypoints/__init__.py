"""Rating's ways in: the HTTP API, the message consumers, and the process entry point."""
