"""Upcasters turn an older version of a message body into a newer one on the way in.

A breaking change is published as a new type (``...v2``) beside the old; the consumer registers an upcaster
``v1 -> v2`` and then only ever sees v2 models. Chains (v1 -> v2 -> v3) are followed to the end.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UpcasterConflict(ValueError):
    """An upcaster is already registered from this type, or it would loop."""


class UpcastFailed(ValueError):
    """An upcaster raised, or did not return a JSON object."""


class Upcasters:
    """A set of upcasters keyed by the type they read. Tests build their own; services use ``UPCASTERS``."""

    def __init__(self) -> None:
        self._steps: dict[str, tuple[str, Upcaster]] = {}

    def register(self, from_type: str, to_type: str, fn: Upcaster) -> None:
        if from_type == to_type:
            raise UpcasterConflict(f"an upcaster must change the type, got {from_type} -> {to_type}")
        if from_type in self._steps:
            raise UpcasterConflict(f"an upcaster from {from_type} is already registered")
        if from_type in self._chain(to_type):
            raise UpcasterConflict(f"{from_type} -> {to_type} would make the upcaster chain loop")
        self._steps[from_type] = (to_type, fn)

    def upcast(self, message_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Follow the chain from ``message_type`` to its newest registered version.

        ``data`` is never modified: upcasters work on a copy, so they may mutate what they receive.
        """
        if message_type not in self._steps:
            return message_type, data
        current_type, current = message_type, copy.deepcopy(data)
        while current_type in self._steps:
            next_type, fn = self._steps[current_type]
            try:
                upcasted = fn(current)
            except Exception as exc:
                raise UpcastFailed(f"upcasting {current_type} -> {next_type} failed: {exc!r}") from exc
            if not isinstance(upcasted, dict):
                raise UpcastFailed(
                    f"upcaster {current_type} -> {next_type} returned {type(upcasted).__name__}"
                )
            current_type, current = next_type, upcasted
        return current_type, current

    def newest(self, message_type: str) -> str:
        """The type ``message_type`` is upcast to (itself when nothing is registered)."""
        return self._chain(message_type)[-1]

    def _chain(self, message_type: str) -> list[str]:
        chain = [message_type]
        while chain[-1] in self._steps:
            chain.append(self._steps[chain[-1]][0])
        return chain


# The process-wide upcasters that `contracts.registry.parse` uses.
UPCASTERS = Upcasters()


def register_upcaster(from_type: str, to_type: str, fn: Upcaster) -> None:
    UPCASTERS.register(from_type, to_type, fn)


def upcast(message_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return UPCASTERS.upcast(message_type, data)
