"""Notification's settings: its prefix, its defaults, and the lease that must outlast a hand-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from notification.entrypoints.settings import NotificationSettings


def test_defaults_point_at_a_local_mail_sink_on_port_1025_and_serve_on_8004(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NOTIFICATION_SMTP_HOST", "NOTIFICATION_SMTP_PORT", "NOTIFICATION_HTTP_PORT"):
        monkeypatch.delenv(name, raising=False)

    settings = NotificationSettings(_env_file=None)  # type: ignore[call-arg]

    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == ("127.0.0.1", 1025, "none")
    assert settings.http_port == 8004


def test_smtp_settings_come_from_notification_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATION_SMTP_HOST", "mail.example")
    monkeypatch.setenv("NOTIFICATION_SMTP_PORT", "587")
    monkeypatch.setenv("NOTIFICATION_SMTP_TLS", "starttls")
    monkeypatch.setenv("NOTIFICATION_SMTP_USERNAME", "folio")
    monkeypatch.setenv("NOTIFICATION_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("NOTIFICATION_GIVE_UP_AFTER_SECONDS", "7200")
    monkeypatch.setenv("NOTIFICATION_SMTP_MAX_SESSIONS", "2")
    monkeypatch.setenv("NOTIFICATION_SMTP_LOCAL_HOSTNAME", "mx.folio.example")

    settings = NotificationSettings(_env_file=None)  # type: ignore[call-arg]
    config = settings.smtp_config()

    assert (config.host, config.port, config.tls) == ("mail.example", 587, "starttls")
    assert (config.username, config.password) == ("folio", "s3cret")
    assert settings.delivery_policy().give_up_after == timedelta(hours=2)
    assert config.max_sessions == 2
    assert config.local_hostname == "mx.folio.example"
    assert "s3cret" not in repr(settings)


def test_the_delivery_policy_follows_the_backoff_and_lease_settings() -> None:
    settings = NotificationSettings(
        backoff_base_seconds=0.5,
        backoff_max_seconds=4,
        backoff_jitter=0.1,
        sending_lease_seconds=60,
        _env_file=None,
    )  # type: ignore[call-arg]

    policy = settings.delivery_policy()

    assert policy.backoff(1) == timedelta(seconds=0.5)
    assert policy.backoff(10) == timedelta(seconds=4)
    assert policy.jitter == 0.1
    assert policy.sending_lease == timedelta(seconds=60)


def test_by_default_refusals_are_retried_for_a_day_over_at_most_four_sessions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "BACKOFF_BASE_SECONDS",
        "BACKOFF_MAX_SECONDS",
        "GIVE_UP_AFTER_SECONDS",
        "SMTP_MAX_SESSIONS",
        "SMTP_LOCAL_HOSTNAME",
    ):
        monkeypatch.delenv(f"NOTIFICATION_{name}", raising=False)

    settings = NotificationSettings(_env_file=None)  # type: ignore[call-arg]
    policy = settings.delivery_policy()

    assert (policy.backoff(1), policy.backoff(100)) == (timedelta(seconds=30), timedelta(hours=4))
    assert policy.give_up_after == timedelta(days=1)
    assert settings.smtp_config().max_sessions == 4
    assert settings.smtp_config().local_hostname is None  # the machine's name, looked up once


def test_a_lease_that_a_live_hand_off_could_outlast_is_refused() -> None:
    with pytest.raises(ValidationError, match="sending_lease_seconds"):
        NotificationSettings(smtp_deadline_seconds=8, sending_lease_seconds=10, _env_file=None)  # type: ignore[call-arg]


def test_a_hand_off_deadline_longer_than_the_workers_stop_grace_is_refused() -> None:
    with pytest.raises(ValidationError, match="smtp_deadline_seconds"):
        NotificationSettings(smtp_deadline_seconds=30, sending_lease_seconds=600, _env_file=None)  # type: ignore[call-arg]


def test_by_default_a_session_is_reused_while_idle_under_30_seconds_for_up_to_100_emails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SMTP_SESSION_IDLE_SECONDS", "SMTP_MESSAGES_PER_SESSION"):
        monkeypatch.delenv(f"NOTIFICATION_{name}", raising=False)

    config = NotificationSettings(_env_file=None).smtp_config()  # type: ignore[call-arg]

    assert (config.session_idle, config.messages_per_session) == (30.0, 100)


def test_session_reuse_comes_from_notification_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATION_SMTP_SESSION_IDLE_SECONDS", "4.5")
    monkeypatch.setenv("NOTIFICATION_SMTP_MESSAGES_PER_SESSION", "1")

    config = NotificationSettings(_env_file=None).smtp_config()  # type: ignore[call-arg]

    assert (config.session_idle, config.messages_per_session) == (4.5, 1)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("smtp_session_idle_seconds", 0), ("smtp_session_idle_seconds", -1), ("smtp_messages_per_session", 0)],
)
def test_a_session_never_idle_or_carrying_no_email_is_refused(setting: str, value: float) -> None:
    with pytest.raises(ValidationError, match=setting):
        NotificationSettings(**{setting: value}, _env_file=None)  # type: ignore[arg-type]
