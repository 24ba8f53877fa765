"""Rating's domain events become the contracts' FeedbackSubmitted and FeedbackDeleted; nothing else maps."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contracts import rating as messages
from rating.adapters.message_mapping import PRIVATE_EVENTS, to_message
from rating.domain.events import FeedbackDeleted, FeedbackSubmitted

AT = datetime(2026, 11, 1, tzinfo=UTC)


def test_feedback_submitted_becomes_the_contract_message_with_its_version_and_verified_flag() -> None:
    event = FeedbackSubmitted(uuid4(), uuid4(), "alice", 4, "Nice", True, 3, AT)
    message = to_message(event)
    assert isinstance(message, messages.FeedbackSubmitted)
    assert (message.stars, message.comment, message.verified_purchase, message.version) == (
        4,
        "Nice",
        True,
        3,
    )
    assert message.subject_value() == str(event.book_id)


def test_feedback_deleted_becomes_the_contract_message_with_its_version() -> None:
    event = FeedbackDeleted(uuid4(), uuid4(), "alice", 2, AT)
    message = to_message(event)
    assert isinstance(message, messages.FeedbackDeleted)
    assert (message.feedback_id, message.version, message.deleted_at) == (event.feedback_id, 2, AT)


def test_an_event_nobody_mapped_is_an_error_not_silence() -> None:
    with pytest.raises(TypeError, match="no message for object"):
        to_message(object())


def test_rating_keeps_none_of_its_events_private() -> None:
    assert PRIVATE_EVENTS == ()
