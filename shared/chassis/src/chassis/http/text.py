"""Text PostgreSQL can store: no NUL character (``text`` refuses it) and no lone surrogate (not UTF-8).

Both reach Python easily (``%00`` in a URL, ``"\\u0000"`` or ``"\\ud800"`` in JSON) and, unchecked, fail
only at the database, as a 500. They are refused where they enter instead: request bodies through
:class:`chassis.http.schemas.RequestBody`, the URL by :class:`chassis.http.limits.RequestGuard`, token
claims by the verifier.
"""

from __future__ import annotations


def unstorable(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode text)"
    return None
