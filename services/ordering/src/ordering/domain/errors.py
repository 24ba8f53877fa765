"""What the domain refuses. The HTTP layer maps these to problem details (422, 403, 409)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken."""


class InvalidOrder(DomainError):
    """The order as asked for cannot exist; ``errors`` maps a field path to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()))
        self.errors = errors


class TransitionNotAllowed(DomainError):
    """The order's current state forbids this move (say, cancelling a completed order)."""

    def __init__(self, order_id: object, state: str, move: str) -> None:
        super().__init__(f"order {order_id} is {state}: cannot {move}")
        self.state = state
        self.move = move


class NotPermitted(DomainError):
    """The caller may not do this to this order."""


class PricingMismatch(DomainError):
    """The catalog priced lines that are not the order's lines: a contradiction we refuse to record."""
