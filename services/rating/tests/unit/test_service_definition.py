from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts import rating as messages
from contracts.topology import SUBSCRIPTIONS
from rating.adapters.message_mapping import to_message
from rating.application.views import RatingSummary
from rating.domain.events import FeedbackDeleted, FeedbackSubmitted
from rating.entrypoints.consumers import subscriptions
from rating.entrypoints.settings import RatingSettings

AT = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_worker_consumes_exactly_what_the_topology_says_rating_consumes() -> None:
    consumed = sorted(m.TYPE for s in subscriptions() for m in s.messages)
    assert consumed == sorted(SUBSCRIPTIONS["rating"])
    assert [s.handler for s in subscriptions()] == ["book_replica", "verified_purchases"]


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


def test_a_summary_counts_every_star_value_and_rounds_the_average_to_two_decimals() -> None:
    summary = RatingSummary.of_counts(uuid4(), {5: 1, 4: 2})
    assert summary.distribution == {1: 0, 2: 0, 3: 0, 4: 2, 5: 1}
    assert (summary.count, summary.average) == (3, Decimal("4.33"))
    assert RatingSummary(uuid4()).average is None


def test_rating_settings_read_the_rating_prefix_and_default_to_port_8003(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATING_DATABASE_URL", "postgresql://r@db/rating")
    settings = RatingSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.database_url, settings.http_port) == ("postgresql://r@db/rating", 8003)
