"""Notification's refusals as problem details."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chassis import forbidden
from notification.application.errors import NotPermitted


@contextmanager
def as_problems() -> Iterator[None]:
    """Turn notification's errors raised in the block into 403 problem details."""
    try:
        yield
    except NotPermitted as denied:
        raise forbidden(str(denied)) from denied
