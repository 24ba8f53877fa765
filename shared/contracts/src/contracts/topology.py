"""Who sends and who receives what: the one place the system's message flow is written down.

The bootstrap derives each service's broker permissions from it, each service's worker is tested to
subscribe to exactly what is listed here, and the EventCatalog is generated from it.
Types are CloudEvents ``type`` strings, so this module needs none of the models; which exchange each
travels on is ``contracts.routing.address``'s to say.
"""

from __future__ import annotations

# Importable from here as before; the names are written once, in contracts.routing.
from contracts.routing import commands_exchange as commands_exchange
from contracts.routing import events_exchange as events_exchange

SERVICES: tuple[str, ...] = ("catalog", "ordering", "rating", "notification")

# Each service's consumer queues: ``<service>.<handler>`` and the message types bound to it. The bootstrap
# declares them (with their retry and parking queues) before any worker runs, so that nothing published
# before a consumer first starts is lost; each worker is tested to consume exactly these.
QUEUES: dict[str, dict[str, tuple[str, ...]]] = {
    "catalog": {
        "reserve_stock": ("folio.catalog.reserve-stock.v1",),
        "release_stock": ("folio.catalog.release-stock.v1",),
        "rating_projection": ("folio.rating.feedback-submitted.v1", "folio.rating.feedback-deleted.v1"),
    },
    "ordering": {
        "stock_reserved": ("folio.catalog.stock-reserved.v1",),
        "stock_reservation_rejected": ("folio.catalog.stock-reservation-rejected.v1",),
        "stock_released": ("folio.catalog.stock-released.v1",),
    },
    "rating": {
        "book_replica": ("folio.catalog.book-created.v1", "folio.catalog.book-deleted.v1"),
        "verified_purchases": ("folio.ordering.order-completed.v1",),
    },
    "notification": {
        "order_emails": (
            "folio.ordering.order-confirmed.v1",
            "folio.ordering.order-cancelled.v1",
            "folio.ordering.order-completed.v1",
        ),
    },
}

# Message types each service consumes (its queues bind to them).
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    service: tuple(t for types in queues.values() for t in types) for service, queues in QUEUES.items()
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
