"""Logs, traces and metrics: what lets an operator see inside a running service."""
