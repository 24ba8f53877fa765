"""The unit of work: one transaction holds the state change, its outbox rows and the inbox row.

Repositories ``track`` the aggregates they load or add; on commit the unit of work takes the domain events
those aggregates raised, maps each to a contracts message and writes it to the outbox in the same
transaction. Nothing is published after commit: the relay does that from the outbox.

Commands to other services (a saga's request, a reply) are queued with :meth:`UnitOfWork.send`: a domain
command goes through the same mapping as the events, a contracts message as it is.

The unit of work is the only committer, and only where it was opened: handlers write and queue, and whoever
opened the unit of work (a route, the consumer of a delivery, a worker task) calls ``commit()`` once. Steps
registered with :meth:`UnitOfWork.before_commit` (an HTTP route's idempotent answer) are written in that
same transaction, just before it commits.

Causation is passed explicitly: the consumer of a delivery calls :meth:`UnitOfWork.caused_by` with its
envelope, and every message written then takes its correlation and causation from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self
from uuid import UUID

from opentelemetry import propagate
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis.tables import outbox
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
    # The message that caused this one; by default the unit of work's cause (none outside a delivery).
    causation_id: str | None = None


# Maps a domain event or command to the message it becomes on the bus; None keeps an event inside the
# service (a command must map). It may return an ``Outgoing`` to name the message's cause and correlation
# itself (an event raised outside any delivery, caused by an earlier message). An event or command with a
# ``message_id`` attribute (a UUID) gives its message that id.
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
    Without a ``correlation_id`` the message's subject correlates it.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    envelope = Envelope(
        id=message_id or new_id(),
        type=message.TYPE,
        source=source,
        subject=message.subject_value(),
        correlation_id=correlation_id or message.subject_value(),
        causation_id=causation_id,
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
        self._before_commit: list[Callable[[], Awaitable[None]]] = []
        self._cause: Envelope | None = None

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        await self.session.begin()
        self._seen = []
        self._messages = []
        self._before_commit = []
        self._cause = None
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

    def caused_by(self, envelope: Envelope) -> None:
        """Make ``envelope`` (the delivery being handled) the cause of every message written from now on."""
        self._cause = envelope

    @property
    def cause(self) -> Envelope | None:
        """The delivery this unit of work handles; None for a request or a worker task."""
        return self._cause

    def send(
        self, command: object, *, correlation_id: str | None = None, message_id: UUID | None = None
    ) -> None:
        """Queue a command for the outbox, written on commit: a domain command (mapped like the events) or a
        contracts message (a reply, as it is)."""
        if isinstance(command, Message):
            self._messages.append(Outgoing(command, correlation_id, message_id))
            return
        outgoing = self._map(command)
        if outgoing is None:
            raise TypeError(f"{type(command).__name__} is sent but maps to no message")
        if correlation_id is not None or message_id is not None:
            outgoing = outgoing._replace(
                correlation_id=correlation_id or outgoing.correlation_id,
                message_id=message_id or outgoing.message_id,
            )
        self._messages.append(outgoing)

    def before_commit(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` in this transaction, after the outbox is written, each time ``commit()`` runs."""
        self._before_commit.append(step)

    def _map(self, item: object) -> Outgoing | None:
        mapped = self._event_mapper(item) if self._event_mapper else item
        if mapped is None:
            return None
        if not isinstance(mapped, Message | Outgoing):
            raise TypeError(f"no message for {type(item).__name__}")
        outgoing = mapped if isinstance(mapped, Outgoing) else Outgoing(mapped)
        chosen = getattr(item, "message_id", None)
        if outgoing.message_id is None and isinstance(chosen, UUID):
            outgoing = outgoing._replace(message_id=chosen)
        return outgoing

    def collect_outgoing(self) -> Iterable[Outgoing]:
        for aggregate in self._seen:
            while aggregate.events:
                outgoing = self._map(aggregate.events.pop(0))
                if outgoing is not None:
                    yield outgoing
        yield from self._messages
        self._messages = []

    async def flush_outbox(self) -> int:
        """Write queued messages as outbox rows; returns how many were written."""
        cause = self._cause
        rows = [
            outbox_row(
                o.message,
                source=self._source,
                correlation_id=o.correlation_id or (cause.correlation_id if cause else None),
                causation_id=o.causation_id or (str(cause.id) if cause else None),
                message_id=o.message_id,
            )
            for o in self.collect_outgoing()
        ]
        if rows:
            # The outbox's trigger notifies the relay (on commit only): no statement of its own.
            await self.session.execute(insert(outbox), rows)
        return len(rows)

    async def commit(self) -> None:
        """Write the outbox and the registered steps, then commit: the one commit of this transaction."""
        await self.flush_outbox()
        for step in self._before_commit:
            await step()
        await self.session.commit()

    async def rollback(self) -> None:
        self._messages = []
        if self.session.in_transaction():
            await self.session.rollback()
