"""What the application refuses, beyond the domain's rules."""

from __future__ import annotations


class NotPermitted(Exception):
    """The caller may not see what it asked for."""
