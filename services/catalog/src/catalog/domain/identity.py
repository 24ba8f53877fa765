"""New identities and the current time: UUIDv7 ids sort by creation, times are always aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from uuid_utils.compat import uuid7


def new_id() -> UUID:
    return uuid7()


def utcnow() -> datetime:
    return datetime.now(UTC)
