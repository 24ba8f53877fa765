"""The unit of work: one transaction holds the state change, its outbox rows and the inbox row.

Repositories ``track`` the aggregates they load or add; on commit the unit of work takes the domain events
those aggregates raised, maps each to a contracts message and writes it to the outbox in the same
transaction. Nothing is published after commit: the relay does that from the outbox.

The unit of work is the only committer. A caller that must add to the command's transaction after the
handler's ``commit()`` (an HTTP route recording its idempotent answer) runs the handler inside
:meth:`UnitOfWork.one_transaction`: there ``commit()`` writes the outbox and flushes, and the block's end
commits everything at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self
from uuid import UUID

from opentelemetry import propagate
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis.messaging import context
from chassis.tables import OUTBOX_CHANNEL, outbox
from contracts.base import Message
from contracts.envelope import TRACEPARENT, TRACESTATE, Envelope, new_id


class HasEvents(Protocol):
    """An aggregate: it keeps the domain events it raised until the unit of work takes them."""

    events: list[Any]


class Outgoing(NamedTuple):
    """A message for the outbox, with what its envelope should say where the defaults do not fit."""

    message: Message
    correlation_id: str | None = None
    message_id: UUID | None = None
    # The message that caused this one; by default the delivery being handled (none outside a delivery).
    causation_id: str | None = None


# Maps a domain event to the message it becomes on the bus; None keeps the event inside the service. It may
# return an ``Outgoing`` to name the message's cause and correlation itself (an event raised outside any
# delivery, caused by an earlier message). An event with a ``message_id`` attribute (a UUID) gives its
# message that id.
EventMapper = Callable[[Any], Message | Outgoing | None]


def outbox_row(
    message: Message,
    *,
    source: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    message_id: UUID | None = None,
) -> dict[str, Any]:
    """The outbox row for ``message``: CloudEvents headers, correlation, causation and trace context.

    ``message_id`` fixes the message's id (a new UUIDv7 otherwise), for a sender that looks its row up later.
    """
    handling = context.current()
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    envelope = Envelope(
        id=message_id or new_id(),
        type=message.TYPE,
        source=source,
        subject=message.subject_value(),
        correlation_id=correlation_id or handling.correlation_id or message.subject_value(),
        causation_id=causation_id or (str(handling.message_id) if handling.message_id else None),
        traceparent=carrier.get(TRACEPARENT),
        tracestate=carrier.get(TRACESTATE),
    )
    return {
        "message_id": envelope.id,
        "exchange": message.exchange(),
        "routing_key": message.routing_key(),
        "type": message.TYPE,
        "body": message.to_json(),
        "headers": envelope.to_headers(),
    }


class UnitOfWork:
    """Subclass per service to add repositories in ``_start`` (they share ``self.session``)."""

    session: AsyncSession

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        source: str,
        event_mapper: EventMapper | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._source = source
        self._event_mapper = event_mapper
        self._seen: list[HasEvents] = []
        self._messages: list[Outgoing] = []
        self._held = False

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        await self.session.begin()
        self._seen = []
        self._messages = []
        self._start()
        return self

    def _start(self) -> None:
        """Hook for subclasses: build repositories on ``self.session``."""

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self.session.close()

    def track(self, aggregate: HasEvents) -> None:
        if not any(seen is aggregate for seen in self._seen):
            self._seen.append(aggregate)

    def send(
        self, message: Message, *, correlation_id: str | None = None, message_id: UUID | None = None
    ) -> None:
        """Queue a message for the outbox directly (a saga's command, a reply), written on commit."""
        self._messages.append(Outgoing(message, correlation_id, message_id))

    def collect_outgoing(self) -> Iterable[Outgoing]:
        for aggregate in self._seen:
            while aggregate.events:
                event = aggregate.events.pop(0)
                mapped = self._event_mapper(event) if self._event_mapper else event
                if mapped is None:
                    continue
                outgoing = mapped if isinstance(mapped, Outgoing) else Outgoing(mapped)
                chosen = getattr(event, "message_id", None)
                if outgoing.message_id is None and isinstance(chosen, UUID):
                    outgoing = outgoing._replace(message_id=chosen)
                yield outgoing
        yield from self._messages
        self._messages = []

    async def flush_outbox(self) -> int:
        """Write queued messages as outbox rows; returns how many were written."""
        rows = [
            outbox_row(
                o.message,
                source=self._source,
                correlation_id=o.correlation_id,
                causation_id=o.causation_id,
                message_id=o.message_id,
            )
            for o in self.collect_outgoing()
        ]
        if rows:
            await self.session.execute(insert(outbox), rows)
            # Delivered only if the transaction commits: wakes the relay without polling.
            await self.session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": OUTBOX_CHANNEL})
        return len(rows)

    async def commit(self) -> None:
        await self.flush_outbox()
        if self._held:
            await self.session.flush()
            return
        await self.session.commit()

    @asynccontextmanager
    async def one_transaction(self) -> AsyncIterator[None]:
        """Hold every ``commit()`` inside the block to a flush; commit once when the block ends normally.

        An exception rolls everything back, whatever was "committed" inside: the block is one transaction.
        """
        if self._held:
            raise RuntimeError("one_transaction blocks do not nest")
        self._held = True
        try:
            yield
        except BaseException:
            self._held = False
            await self.rollback()
            raise
        self._held = False
        await self.commit()

    async def rollback(self) -> None:
        self._messages = []
        if self.session.in_transaction():
            await self.session.rollback()
