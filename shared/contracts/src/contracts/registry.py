"""Every message model, found by its CloudEvents type; and ``parse``, the one way a consumer reads a body."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from contracts.base import Message
from contracts.catalog import (
    BookCreated,
    BookDeleted,
    BookUpdated,
    ReleaseStock,
    ReserveStock,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from contracts.notification import NotificationFailed, NotificationSent
from contracts.ordering import OrderCancelled, OrderCompleted, OrderConfirmed, OrderPlaced
from contracts.rating import FeedbackDeleted, FeedbackSubmitted
from contracts.upcasting import UPCASTERS, Upcasters

# Listed by hand rather than collected by subclass hooks, so that models defined in tests stay out of it.
ALL_MESSAGES: tuple[type[Message], ...] = (
    BookCreated,
    BookUpdated,
    BookDeleted,
    StockReserved,
    StockReservationRejected,
    StockReleased,
    ReserveStock,
    ReleaseStock,
    OrderPlaced,
    OrderConfirmed,
    OrderCancelled,
    OrderCompleted,
    FeedbackSubmitted,
    FeedbackDeleted,
    NotificationSent,
    NotificationFailed,
)


class InvalidMessage(ValueError):
    """A body that can never become a message (not JSON, not an object, or of an unknown type).

    ``parse`` raises this or pydantic's ``ValidationError``; both are ``ValueError``, so a consumer parks on
    ``ValueError`` and retries anything else.
    """


class UnknownMessageType(InvalidMessage):
    """No model is registered for this CloudEvents type."""

    def __init__(self, message_type: str, known: Iterable[str] = ()) -> None:
        self.message_type = message_type
        hint = f"; known types: {', '.join(sorted(known))}" if known else ""
        super().__init__(f"unknown message type {message_type!r}{hint}")


class MessageRegistry:
    """Models by type plus the upcasters applied before validation. Tests build isolated ones."""

    def __init__(self, messages: Iterable[type[Message]], upcasters: Upcasters | None = None) -> None:
        self._by_type: dict[str, type[Message]] = {}
        for model in messages:
            if model.TYPE in self._by_type:
                raise ValueError(f"{model.TYPE} is registered twice")
            self._by_type[model.TYPE] = model
        self.upcasters = upcasters if upcasters is not None else Upcasters()

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self._by_type)

    def messages(self) -> tuple[type[Message], ...]:
        return tuple(self._by_type.values())

    def message_class(self, message_type: str) -> type[Message]:
        try:
            return self._by_type[message_type]
        except KeyError:
            raise UnknownMessageType(message_type, self._by_type) from None

    def parse(self, message_type: str, body: bytes | str | dict[str, Any]) -> Message:
        """Upcast ``body`` from ``message_type`` to the newest version, then validate it tolerantly."""
        data = _as_object(body)
        newest_type, data = self.upcasters.upcast(message_type, data)
        return self.message_class(newest_type).from_wire(data)


def _as_object(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessage(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidMessage(f"body must be a JSON object, not {type(data).__name__}")
    return data


REGISTRY = MessageRegistry(ALL_MESSAGES, UPCASTERS)


def message_class(message_type: str) -> type[Message]:
    return REGISTRY.message_class(message_type)


def parse(message_type: str, body: bytes | str | dict[str, Any]) -> Message:
    return REGISTRY.parse(message_type, body)
