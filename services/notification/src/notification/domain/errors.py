"""What the notification domain refuses."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken."""


class TransitionNotAllowed(DomainError):
    """The notification's current status forbids this move (say, sending one already sent)."""

    def __init__(self, notification_id: object, status: str, move: str) -> None:
        super().__init__(f"notification {notification_id} is {status}: cannot {move}")
        self.status = status
        self.move = move
