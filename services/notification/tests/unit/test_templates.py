"""E-mails rendered from the packaged templates: plain text and HTML for each order message."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from contracts.examples import example
from contracts.money import Money
from contracts.ordering import OrderCancelled, OrderCompleted, OrderConfirmed
from notification.adapters import templates
from notification.adapters.message_mapping import email_request, money
from notification.domain.content import EmailContent

CONFIRMED = example(OrderConfirmed)
ORDER = str(CONFIRMED.order_id)


def rendered(message: OrderConfirmed | OrderCancelled | OrderCompleted) -> EmailContent:
    request = email_request(message)
    return templates.render(request.template, request.context)


def test_the_confirmation_lists_every_line_with_its_price_and_the_total() -> None:
    email = rendered(CONFIRMED)

    assert email.subject == "Your Folio order is confirmed (30.00 EUR)"
    for part in (email.text, email.html):
        assert ORDER in part
        assert "01890a5d-ac96-774b-bcce-b302099a8057" in part
        assert "12.50 EUR" in part
        assert "25.00 EUR" in part
        assert "5.00 EUR" in part
        assert "30.00 EUR" in part
    assert "2 x book 01890a5d-ac96-774b-bcce-b302099a8057 at 12.50 EUR = 25.00 EUR" in email.text
    assert "23 November 2026, 10:00 UTC" in email.text


def test_a_rejected_order_is_worded_as_not_accepted_with_its_reason() -> None:
    email = rendered(example(OrderCancelled).model_copy(update={"rejected": True, "reason": "out of stock"}))

    assert email.subject == "Your Folio order could not be accepted"
    assert "could not accept your order" in email.text
    assert "Reason: out of stock" in email.text
    assert "Rejected on" in email.text
    assert "could not accept your order" in email.html
    assert "cancelled" not in email.subject


def test_a_cancelled_order_is_worded_as_cancelled_with_its_reason() -> None:
    message = example(OrderCancelled).model_copy(update={"rejected": False, "reason": "customer cancelled"})

    email = rendered(message)

    assert email.subject == "Your Folio order has been cancelled"
    assert "has been cancelled" in email.text
    assert "Reason: customer cancelled" in email.text
    assert "Cancelled on" in email.html
    assert "could not accept" not in email.text


def test_the_completion_invites_a_review() -> None:
    email = rendered(example(OrderCompleted))

    assert email.subject == "Your Folio order is complete: tell us what you think"
    assert "2 titles, 30.00 EUR" in email.text
    assert "rate and review your books" in email.text
    assert "Tell us what you think" in email.html


def test_a_completion_of_one_book_says_title_and_it() -> None:
    message = example(OrderCompleted).model_copy(update={"book_ids": [UUID(int=1)]})

    email = rendered(message)

    assert "1 title," in email.text
    assert "Once you have read it," in email.text


def test_html_escapes_what_a_message_carries_and_plain_text_keeps_it_verbatim() -> None:
    reason = '<script>alert("x")</script> & co'
    message = example(OrderCancelled).model_copy(update={"reason": reason})

    email = rendered(message)

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in email.html
    assert reason in email.text


def test_the_html_part_is_a_whole_document() -> None:
    email = rendered(CONFIRMED)

    assert email.html.lstrip().startswith("<!DOCTYPE html>")
    assert email.html.rstrip().endswith("</html>")


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(templates.UnknownTemplate):
        templates.render("order-shipped", {})


def test_a_missing_value_fails_rendering_instead_of_leaving_a_hole() -> None:
    with pytest.raises(Exception, match="undefined"):
        templates.render("order-cancelled", {"order_id": "x"})


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("5", "5.00 EUR"), ("12.5", "12.50 EUR"), ("0.125", "0.125 EUR"), ("1000", "1000.00 EUR")],
)
def test_amounts_are_shown_with_their_cents(amount: str, shown: str) -> None:
    assert money(Money.of(amount, "EUR")) == shown


def test_times_are_shown_in_utc() -> None:
    message = CONFIRMED.model_copy(update={"confirmed_at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)})

    assert "02 January 2026, 03:04 UTC" in rendered(message).text
