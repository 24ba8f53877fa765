"""The message being handled right now, for the log fields of every record logged while handling it.

Not for causation: what a delivery causes takes its correlation and causation from the unit of work
(``UnitOfWork.caused_by``), which the consumer tells explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class MessageContext:
    message_id: UUID | None = None
    message_type: str | None = None
    correlation_id: str | None = None


_current: ContextVar[MessageContext] = ContextVar("folio_message_context", default=MessageContext())  # noqa: B039 (frozen)


def current() -> MessageContext:
    return _current.get()


@contextmanager
def bound(context: MessageContext) -> Iterator[MessageContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
