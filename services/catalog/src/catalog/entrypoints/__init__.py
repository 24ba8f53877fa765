"""Catalog's entrypoints: the HTTP API, the message consumers and the process roles."""
