"""Which exchange and routing key a message travels with: the one answer every other part asks.

An event goes to its owner's topic exchange ``<owner>.events``; a command to its receiver's (its owner's)
direct exchange ``<owner>.commands``; the routing key is the CloudEvents type. The chassis' declarations, the
outbox rows, the bootstrap's permissions and bindings and the generated documents all call :func:`address`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from contracts.base import Message

ExchangeKind = Literal["topic", "direct"]


@dataclass(frozen=True, slots=True)
class Address:
    exchange: str
    routing_key: str
    # What the exchange is declared as: topic for events (bound by type), direct for commands.
    exchange_type: ExchangeKind


def events_exchange(service: str) -> str:
    return f"{service}.events"


def commands_exchange(service: str) -> str:
    return f"{service}.commands"


def address(message: type[Message] | str) -> Address:
    """Where ``message`` (a model, or the CloudEvents type of one the contracts know) is published."""
    model = _model(message) if isinstance(message, str) else message
    if model.KIND == "event":
        return Address(events_exchange(model.OWNER), model.TYPE, "topic")
    return Address(commands_exchange(model.OWNER), model.TYPE, "direct")


def _model(message_type: str) -> type[Message]:
    # The registry imports every model and so this module's importer, contracts.base.
    from contracts.registry import message_class

    return message_class(message_type)
