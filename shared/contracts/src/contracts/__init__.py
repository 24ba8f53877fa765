"""Folio's message contracts: one pydantic model per message, grouped by the service that owns it."""

from contracts.base import Command, Event, Message
from contracts.money import CurrencyMismatch, Money
from contracts.registry import ALL_MESSAGES, InvalidMessage, UnknownMessageType, message_class, parse

__all__ = [
    "ALL_MESSAGES",
    "Command",
    "CurrencyMismatch",
    "Event",
    "InvalidMessage",
    "Message",
    "Money",
    "UnknownMessageType",
    "message_class",
    "parse",
]
