"""Which outbox rows must reach a queue: commands, and events some service subscribes to.

Those are published ``mandatory``: a message the broker cannot route to any queue comes back (basic.return)
and the row is retried later instead of being marked published and lost. An event of the contracts that no
service subscribes to is published without ``mandatory``: nobody is waiting for it, and it still counts as
published. A type the contracts do not know (a test's, a benchmark's) is treated as one that must be routed.
"""

from __future__ import annotations

from functools import cache

from contracts import topology
from contracts.registry import REGISTRY
from contracts.routing import address


def must_be_routed(message_type: str) -> bool:
    """True when a publish of ``message_type`` that reaches no queue is a failure."""
    return message_type not in _events_nobody_subscribes_to()


@cache
def _events_nobody_subscribes_to() -> frozenset[str]:
    subscribed = {t for types in topology.SUBSCRIPTIONS.values() for t in types}
    # A command's direct exchange routes to its receiver's queue alone: one must always be there.
    events = {t for t in REGISTRY.types if address(t).exchange_type == "topic"}
    return frozenset(events - subscribed)
