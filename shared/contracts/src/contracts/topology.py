"""Who sends and who receives what: the one place the system's message flow is written down.

The bootstrap derives each service's broker permissions from it, each service's worker is tested to
subscribe to exactly what is listed here, and the EventCatalog is generated from it.
Types are CloudEvents ``type`` strings, so this module needs none of the models.
"""

from __future__ import annotations

SERVICES: tuple[str, ...] = ("catalog", "ordering", "rating", "notification")

# Message types each service consumes (its queues bind to them).
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "catalog": (
        "folio.catalog.reserve-stock.v1",
        "folio.catalog.release-stock.v1",
        "folio.rating.feedback-submitted.v1",
        "folio.rating.feedback-deleted.v1",
    ),
    "ordering": (
        "folio.catalog.stock-reserved.v1",
        "folio.catalog.stock-reservation-rejected.v1",
        "folio.catalog.stock-released.v1",
    ),
    "rating": (
        "folio.catalog.book-created.v1",
        "folio.catalog.book-deleted.v1",
        "folio.ordering.order-completed.v1",
    ),
    "notification": (
        "folio.ordering.order-confirmed.v1",
        "folio.ordering.order-cancelled.v1",
        "folio.ordering.order-completed.v1",
    ),
}

# Commands each service sends to another service's command exchange.
SENDS_COMMANDS: dict[str, tuple[str, ...]] = {
    "catalog": (),
    "ordering": ("folio.catalog.reserve-stock.v1", "folio.catalog.release-stock.v1"),
    "rating": (),
    "notification": (),
}


def owner(message_type: str) -> str:
    """``folio.<owner>.<name>.v<N>`` -> ``<owner>``."""
    return message_type.split(".")[1]


def events_exchange(service: str) -> str:
    return f"{service}.events"


def commands_exchange(service: str) -> str:
    return f"{service}.commands"
