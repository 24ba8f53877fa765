"""Notification's settings: the chassis ones under ``NOTIFICATION_``, the mail server and the sender's pace.

``NOTIFICATION_SMTP_HOST``, ``_SMTP_PORT``, ``_SMTP_TLS`` (``none``, ``starttls``, ``tls``),
``_SMTP_USERNAME``, ``_SMTP_PASSWORD`` and ``_MAIL_FROM`` say where and as whom mail goes;
``_BACKOFF_BASE_SECONDS``, ``_BACKOFF_MAX_SECONDS``, ``_BACKOFF_JITTER`` and ``_GIVE_UP_AFTER_SECONDS`` how
patiently transient refusals are retried; ``_SMTP_MAX_SESSIONS`` how many SMTP sessions are open at once;
``_SMTP_SESSION_IDLE_SECONDS`` and ``_SMTP_MESSAGES_PER_SESSION`` how long idle and for how many e-mails a
session is reused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from chassis import TASK_STOP_TIMEOUT, ServiceSettings
from notification.adapters.smtp import SmtpConfig, TlsMode
from notification.domain.delivery import DeliveryPolicy


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_")

    database_url: str = "postgresql://notification@127.0.0.1:5432/notification"
    http_port: int = 8004

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_tls: TlsMode = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_validate_certs: bool = True
    # Per SMTP command, and for a whole hand-off. The deadline stays under the worker's stop grace, so a
    # graceful stop lets every hand-off in flight finish and record its outcome.
    smtp_timeout_seconds: float = Field(default=5.0, gt=0)
    smtp_deadline_seconds: float = Field(default=8.0, gt=0, lt=TASK_STOP_TIMEOUT)
    mail_from: str = "Folio <no-reply@folio.example>"
    message_id_domain: str | None = None

    # SMTP sessions open at once per worker process; a pass claims no more notifications than this.
    smtp_max_sessions: int = Field(default=4, ge=1)
    # A session is reused for the next e-mails until it has been idle this long or carried this many
    # (1: a session per e-mail); servers drop idle clients, and relays cap the messages per connection.
    smtp_session_idle_seconds: float = Field(default=30.0, gt=0)
    smtp_messages_per_session: int = Field(default=100, ge=1)
    # The name the worker gives in EHLO (some servers check it); the machine's, looked up once, when unset.
    smtp_local_hostname: str | None = None

    # After a transient refusal: 30 s, 1 m, 2 m, ... doubling up to 4 h, each spread by up to 20 % either
    # way; given up once the pauses pass a day (a permanent 5xx refusal fails at once).
    backoff_base_seconds: float = Field(default=30.0, ge=0)
    backoff_max_seconds: float = Field(default=4 * 3600.0, ge=0)
    backoff_jitter: float = Field(default=0.2, ge=0, lt=1)
    give_up_after_seconds: float = Field(default=24 * 3600.0, ge=0)
    # A notification still `sending` this long after its claim was left by a stopped worker.
    sending_lease_seconds: float = Field(default=120.0, gt=0)

    # Between passes the sender sleeps until the next pending notification is due or one is recorded
    # (NOTIFY), at most the idle interval while it listens and the poll interval while it cannot. It looks
    # for stuck rows once an idle interval, so they are resolved within a lease and an idle interval.
    sender_poll_interval_seconds: float = Field(default=1.0, gt=0)
    sender_idle_poll_interval_seconds: float = Field(default=10.0, gt=0)
    sender_batch_size: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _lease_outlasts_hand_off(self) -> Self:
        # Otherwise recovery could declare "unknown" a hand-off still running in a live worker.
        if self.sending_lease_seconds <= 2 * self.smtp_deadline_seconds:
            raise ValueError("sending_lease_seconds must be more than twice smtp_deadline_seconds")
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_max_seconds must not be below backoff_base_seconds")
        return self

    def delivery_policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(
            backoff_base=timedelta(seconds=self.backoff_base_seconds),
            backoff_max=timedelta(seconds=self.backoff_max_seconds),
            give_up_after=timedelta(seconds=self.give_up_after_seconds),
            jitter=self.backoff_jitter,
            sending_lease=timedelta(seconds=self.sending_lease_seconds),
        )

    def smtp_config(self) -> SmtpConfig:
        return SmtpConfig(
            host=self.smtp_host,
            port=self.smtp_port,
            tls=self.smtp_tls,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            validate_certs=self.smtp_validate_certs,
            command_timeout=self.smtp_timeout_seconds,
            deadline=self.smtp_deadline_seconds,
            sender=self.mail_from,
            message_id_domain=self.message_id_domain,
            max_sessions=self.smtp_max_sessions,
            session_idle=self.smtp_session_idle_seconds,
            messages_per_session=self.smtp_messages_per_session,
            local_hostname=self.smtp_local_hostname,
        )
