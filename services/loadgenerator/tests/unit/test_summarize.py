import random
from datetime import UTC, datetime, timedelta

import pytest

from loadgenerator.books import isbn13, random_isbn
from loadgenerator.orders import Placement, Sent, order_lines
from loadgenerator.outcomes import Outcome
from loadgenerator.schedule import RateStep
from loadgenerator.step import summarize

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def outcome(order_id: str, status: str, placed: float, changed: float) -> Outcome:
    return Outcome(order_id, status, T0 + timedelta(seconds=placed), T0 + timedelta(seconds=changed))


def test_a_step_sums_up_what_became_of_its_orders() -> None:
    start = T0.timestamp()
    placements = [
        Placement("a", 202, start, 0.010),
        Placement("b", 202, start + 0.5, 0.020),
        Placement("c", 202, start + 1.0, 0.030),
        Placement(None, 503, start + 1.5, 0.040),
        Placement("d", 202, start + 2.0, 0.040),
    ]
    outcomes = [
        outcome("a", "confirmed", 0.01, 0.11),
        outcome("b", "confirmed", 0.51, 0.71),
        outcome("c", "rejected", 1.01, 1.05),
        outcome("d", "pending", 2.01, 2.01),
        outcome("someone-else", "confirmed", 0.0, 9.0),
    ]
    result = summarize(RateStep(2, 2.5), Sent(placements, worst_lateness=0.002), outcomes)
    assert (result.placed, result.accepted, result.failed) == (5, 4, 1)
    assert (result.confirmed, result.rejected, result.unsettled) == (2, 1, 1)
    assert result.sent_per_s == pytest.approx(3 / 2.0)
    assert result.confirmed_per_s == pytest.approx(1 / 0.6)
    assert result.drain_seconds == 0.0  # the last confirmation came before the last order was sent
    assert result.placed_to_confirmed_ms.p50 == pytest.approx(150.0)
    assert result.post_ms.max == pytest.approx(40.0)
    assert result.send_lag_ms == pytest.approx(2.0)


def test_a_step_with_nothing_confirmed_has_no_latency() -> None:
    start = T0.timestamp()
    result = summarize(RateStep(1, 1), Sent([Placement("a", 202, start, 0.01)], 0.0), [])
    assert (result.confirmed, result.unsettled, result.confirmed_per_s) == (0, 1, 0.0)
    assert result.placed_to_confirmed_ms.count == 0


def test_isbn13_appends_the_check_digit() -> None:
    assert isbn13("978030640615") == "9780306406157"
    assert isbn13("979800000000")[-1] == str((10 - (9 + 21 + 9 + 24) % 10) % 10)
    with pytest.raises(ValueError, match="twelve"):
        isbn13("97803064")


def test_random_isbns_are_valid() -> None:
    rng = random.Random(7)
    for _ in range(20):
        isbn = random_isbn(rng)
        assert isbn13(isbn[:12]) == isbn


def test_order_lines_pick_distinct_books_in_small_quantities() -> None:
    rng = random.Random(3)
    books = [f"book-{i}" for i in range(5)]
    for _ in range(50):
        lines = order_lines(books, rng)
        chosen = [line["book_id"] for line in lines]
        assert 1 <= len(lines) <= 3
        assert len(set(chosen)) == len(chosen)
        assert all(line["quantity"] in (1, 2) for line in lines)


def test_a_step_counts_shed_answers_and_why_orders_failed() -> None:
    start = T0.timestamp()
    placements = [
        Placement("a", 202, start, 0.01, shed=2),
        Placement(None, 503, start + 0.5, 30.0, shed=30),
        Placement(None, 0, start + 1.0, 60.0),
    ]
    result = summarize(RateStep(2, 1.5), Sent(placements, 0.0, offered_per_s=2.0, cpu_percent=5.0), [])
    assert result.shed == 32
    assert result.failed_statuses == {"503": 1, "0": 1}
    assert (result.offered_per_s, result.generator_cpu_percent) == (2.0, 5.0)
