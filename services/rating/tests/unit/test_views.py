from decimal import Decimal
from uuid import uuid4

from rating.application.views import RatingSummary


def test_a_summary_counts_every_star_value_and_rounds_the_average_to_two_decimals() -> None:
    summary = RatingSummary.of_counts(uuid4(), {5: 1, 4: 2})
    assert summary.distribution == {1: 0, 2: 0, 3: 0, 4: 2, 5: 1}
    assert (summary.count, summary.average) == (3, Decimal("4.33"))
    assert RatingSummary(uuid4()).average is None
