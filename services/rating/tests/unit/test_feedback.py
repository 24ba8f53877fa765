from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from rating.domain.errors import InvalidComment, InvalidCustomer, InvalidStars, NoFeedback
from rating.domain.events import FeedbackDeleted, FeedbackSubmitted
from rating.domain.feedback import MAX_COMMENT, Feedback

BOOK = uuid4()
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)


def a_feedback(stars: int = 4, comment: str | None = "Lovely", verified: bool = False) -> Feedback:
    return Feedback.submit(
        book_id=BOOK, customer_id="alice", stars=stars, comment=comment, verified_purchase=verified, now=T0
    )


def test_a_first_feedback_is_version_one_and_records_feedback_submitted() -> None:
    feedback = a_feedback()
    assert feedback.version == 1
    assert feedback.events == [
        FeedbackSubmitted(
            feedback_id=feedback.id,
            book_id=BOOK,
            customer_id="alice",
            stars=4,
            comment="Lovely",
            verified_purchase=False,
            version=1,
            submitted_at=T0,
        )
    ]


@pytest.mark.parametrize("stars", [0, 6, -1, 100])
def test_stars_outside_one_to_five_are_refused(stars: int) -> None:
    with pytest.raises(InvalidStars) as raised:
        a_feedback(stars=stars)
    assert raised.value.field == "stars"


@pytest.mark.parametrize("stars", [True, 4.0, "4"])
def test_stars_must_be_a_whole_number_not_a_bool_float_or_text(stars: object) -> None:
    with pytest.raises(InvalidStars):
        a_feedback(stars=stars)  # type: ignore[arg-type]


@pytest.mark.parametrize("stars", [1, 5])
def test_one_and_five_stars_are_accepted(stars: int) -> None:
    assert a_feedback(stars=stars).stars == stars


def test_a_comment_is_trimmed_and_a_blank_one_is_no_comment() -> None:
    assert a_feedback(comment="  Great read \n").comment == "Great read"
    assert a_feedback(comment="   ").comment is None
    assert a_feedback(comment=None).comment is None


def test_a_comment_longer_than_the_limit_is_refused() -> None:
    assert a_feedback(comment="x" * MAX_COMMENT).comment == "x" * MAX_COMMENT
    with pytest.raises(InvalidComment):
        a_feedback(comment="x" * (MAX_COMMENT + 1))


def test_a_blank_customer_is_refused() -> None:
    with pytest.raises(InvalidCustomer):
        Feedback.submit(book_id=BOOK, customer_id=" ", stars=3)


def test_replacing_feedback_keeps_its_id_bumps_the_version_and_records_the_new_state() -> None:
    feedback = a_feedback()
    feedback.events.clear()
    assert feedback.replace(stars=2, comment="Dragged on", now=T1) is True
    assert (feedback.stars, feedback.comment, feedback.version, feedback.submitted_at) == (
        2,
        "Dragged on",
        2,
        T1,
    )
    (event,) = feedback.events
    assert isinstance(event, FeedbackSubmitted)
    assert (event.feedback_id, event.stars, event.version) == (feedback.id, 2, 2)


def test_replacing_feedback_with_the_same_stars_and_comment_changes_nothing() -> None:
    feedback = a_feedback()
    feedback.events.clear()
    assert feedback.replace(stars=4, comment=" Lovely ", now=T1) is False
    assert feedback.version == 1
    assert feedback.submitted_at == T0
    assert feedback.events == []


def test_replacing_checks_the_stars_too() -> None:
    feedback = a_feedback()
    with pytest.raises(InvalidStars):
        feedback.replace(stars=9)
    assert (feedback.stars, feedback.version) == (4, 1)


def test_deleting_feedback_clears_it_bumps_the_version_and_records_feedback_deleted() -> None:
    feedback = a_feedback()
    feedback.events.clear()
    feedback.delete(now=T1)
    assert feedback.deleted
    assert (feedback.stars, feedback.comment, feedback.version) == (None, None, 2)
    assert feedback.events == [
        FeedbackDeleted(feedback_id=feedback.id, book_id=BOOK, customer_id="alice", version=2, deleted_at=T1)
    ]


def test_deleting_feedback_twice_is_refused_as_no_feedback() -> None:
    feedback = a_feedback()
    feedback.delete(now=T1)
    with pytest.raises(NoFeedback):
        feedback.delete(now=T2)
    assert feedback.version == 2


def test_feedback_given_again_after_deletion_goes_on_numbering_where_it_stopped() -> None:
    feedback = a_feedback()
    feedback.delete(now=T1)
    feedback.events.clear()
    assert feedback.replace(stars=4, comment="Lovely", now=T2) is True
    assert not feedback.deleted
    assert feedback.version == 3
    (event,) = feedback.events
    assert isinstance(event, FeedbackSubmitted)
    assert event.version == 3


def test_marking_live_feedback_verified_announces_it_again_with_a_new_version() -> None:
    feedback = a_feedback()
    feedback.events.clear()
    assert feedback.mark_verified() is True
    assert feedback.verified_purchase
    (event,) = feedback.events
    assert isinstance(event, FeedbackSubmitted)
    assert (event.verified_purchase, event.version, event.stars, event.submitted_at) == (True, 2, 4, T0)


def test_marking_verified_feedback_again_changes_nothing() -> None:
    feedback = a_feedback(verified=True)
    feedback.events.clear()
    assert feedback.mark_verified() is False
    assert feedback.version == 1
    assert feedback.events == []


def test_a_deleted_feedback_keeps_the_verified_flag_quietly_for_when_it_is_given_again() -> None:
    feedback = a_feedback()
    feedback.delete(now=T1)
    feedback.events.clear()
    assert feedback.mark_verified() is True
    assert feedback.version == 2
    assert feedback.events == []
    feedback.replace(stars=5, now=T2)
    (event,) = feedback.events
    assert isinstance(event, FeedbackSubmitted)
    assert event.verified_purchase is True
