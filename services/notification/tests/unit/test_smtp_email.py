"""The e-mail as it goes over SMTP: headers, a stable Message-ID, and both parts."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from uuid import UUID

from aiosmtplib.email import flatten_message

from notification.adapters.smtp import POLICY, SmtpConfig, build_email, message_id
from notification.domain.content import EmailContent
from notification.domain.notification import Notification

NOTIFICATION_ID = UUID("01890a5d-ac96-774b-bcce-b302099a805b")
SOURCE_ID = UUID("01890a5d-ac96-774b-bcce-b302099a805c")


def notification(subject: str = "Your order is confirmed") -> Notification:
    return Notification.record(
        notification_id=NOTIFICATION_ID,
        source_message_id=SOURCE_ID,
        source_type="folio.ordering.order-confirmed.v1",
        order_id=UUID(int=7),
        customer_id="user-1",
        recipient="ada@example.com",
        template="order-confirmed",
        content=EmailContent(subject=subject, text="Grüße, 12.50 €\n", html="<p>Grüße</p>\n"),
        at=datetime(2026, 11, 23, tzinfo=UTC),
    )


def test_the_message_id_is_derived_from_the_notification_id_so_every_attempt_shares_it() -> None:
    config = SmtpConfig(sender="Folio <no-reply@folio.example>")

    first = build_email(notification(), config)
    second = build_email(notification(), config)

    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"] == f"<notification.{NOTIFICATION_ID}@folio.example>"
    assert message_id(NOTIFICATION_ID, "mail.test") == f"<notification.{NOTIFICATION_ID}@mail.test>"


def test_the_message_id_domain_can_be_set_apart_from_the_sender() -> None:
    config = SmtpConfig(sender="no-reply@folio.example", message_id_domain="notify.folio.example")

    assert build_email(notification(), config)["Message-ID"].endswith("@notify.folio.example>")


def test_the_email_carries_sender_recipient_subject_and_folio_headers() -> None:
    message = build_email(notification(), SmtpConfig(sender="Folio <no-reply@folio.example>"))

    assert message["From"] == "Folio <no-reply@folio.example>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Your order is confirmed"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Folio-Notification-Id"] == str(NOTIFICATION_ID)
    assert message["X-Folio-Source-Message-Id"] == str(SOURCE_ID)
    assert message["Date"]


def test_the_email_has_a_plain_text_and_an_html_alternative_that_survive_seven_bit_transport() -> None:
    wire = flatten_message(build_email(notification(), SmtpConfig()), cte_type="7bit")
    wire.decode("ascii")  # nothing 8-bit on the wire

    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    # SMTP lines end in CRLF on the wire.
    assert plain.get_content().replace("\r\n", "\n") == "Grüße, 12.50 €\n"
    assert html.get_content().replace("\r\n", "\n") == "<p>Grüße</p>\n"


def test_the_envelope_sender_is_the_address_inside_the_from_header() -> None:
    assert SmtpConfig(sender="Folio <no-reply@folio.example>").sender_address == "no-reply@folio.example"
    assert SmtpConfig(sender="plain@folio.example").sender_address == "plain@folio.example"


def test_each_header_class_is_made_once_and_parses_as_the_standard_one() -> None:
    # The standard registry makes a new class per header parsed; the e-mails' registry reuses its classes.
    assert POLICY.header_factory["Subject"] is POLICY.header_factory["subject"]
    standard = email.policy.SMTP.header_factory
    for name, value in (("From", "Folio <no-reply@folio.example>"), ("Subject", "Grüße"), ("Date", "x")):
        ours, theirs = POLICY.header_factory(name, value), standard(name, value)
        assert type(ours).__mro__[1:] == type(theirs).__mro__[1:]
        assert str(ours) == str(theirs)
        assert ours.fold(policy=POLICY) == theirs.fold(policy=email.policy.SMTP)


def test_a_sender_of_another_configuration_gets_its_own_from_header() -> None:
    first = build_email(notification(), SmtpConfig(sender="Folio <no-reply@folio.example>"))
    second = build_email(notification(), SmtpConfig(sender="Shop <shop@example.org>"))

    assert first["From"] == "Folio <no-reply@folio.example>"
    assert second["From"] == "Shop <shop@example.org>"
    assert second["From"].addresses[0].addr_spec == "shop@example.org"
