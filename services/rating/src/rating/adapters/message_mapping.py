"""Rating's domain events as the messages other services read."""

from __future__ import annotations

from functools import singledispatch

from contracts import rating as messages
from contracts.base import Message
from rating.domain import events

# Domain events that stay inside rating; any other event without a mapping is a TypeError.
PRIVATE_EVENTS: tuple[type, ...] = ()


@singledispatch
def to_message(event: object) -> Message | None:
    """The message ``event`` becomes on the bus; None for a private event."""
    if isinstance(event, PRIVATE_EVENTS):
        return None
    # An event nobody mapped is a mistake, not a private event: it would vanish without a trace.
    raise TypeError(f"no message for {type(event).__name__}")


@to_message.register
def _feedback_submitted(event: events.FeedbackSubmitted) -> Message:
    return messages.FeedbackSubmitted(
        feedback_id=event.feedback_id,
        book_id=event.book_id,
        customer_id=event.customer_id,
        stars=event.stars,
        comment=event.comment,
        verified_purchase=event.verified_purchase,
        version=event.version,
        submitted_at=event.submitted_at,
    )


@to_message.register
def _feedback_deleted(event: events.FeedbackDeleted) -> Message:
    return messages.FeedbackDeleted(
        feedback_id=event.feedback_id,
        book_id=event.book_id,
        customer_id=event.customer_id,
        version=event.version,
        deleted_at=event.deleted_at,
    )
