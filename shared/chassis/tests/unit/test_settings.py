from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from chassis.messaging.consumer import RetryPolicy
from chassis.outbox.options import RelayOptions
from chassis.settings import ServiceSettings


class ShopSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_")

    http_port: int = 8009


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No stray .env or FOLIO_/SHOP_ variables from the developer's shell.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("FOLIO_", "SHOP_")):
            monkeypatch.delenv(name)


def test_defaults_work_locally() -> None:
    settings = ShopSettings()
    assert settings.database_url.startswith("postgresql://")
    assert settings.amqp_url.startswith("amqp://")
    assert settings.http_port == 8009
    assert settings.retry_delays == (1.0, 5.0, 30.0)
    assert settings.auth_local_secret is None
    assert settings.auth_jwks_url is None


def test_a_service_runs_what_the_libraries_default_to() -> None:
    settings, relay = ShopSettings(), RelayOptions()
    polls = (settings.outbox_poll_interval, settings.outbox_idle_poll_interval)
    assert settings.outbox_batch_size == relay.batch_size
    assert polls == (relay.poll_interval, relay.idle_poll_interval)
    assert timedelta(hours=settings.outbox_retention_hours) == relay.retention
    assert settings.retry_delays == RetryPolicy().delays


def test_service_prefix_configures_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_DATABASE_URL", "postgresql://shop@db:5432/shop")
    monkeypatch.setenv("SHOP_HTTP_PORT", "9000")
    monkeypatch.setenv("SHOP_LOG_JSON", "false")
    monkeypatch.setenv("SHOP_AUTH_LOCAL_SECRET", "s" * 32)
    settings = ShopSettings()
    assert settings.database_url == "postgresql://shop@db:5432/shop"
    assert settings.http_port == 9000
    assert settings.log_json is False
    assert settings.auth_local_secret is not None
    assert settings.auth_local_secret.get_secret_value() == "s" * 32
    assert "s" * 32 not in repr(settings)


def test_shared_prefix_is_a_default_the_service_prefix_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLIO_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("FOLIO_AMQP_URL", "amqp://shared")
    monkeypatch.setenv("SHOP_AMQP_URL", "amqp://mine")
    settings = ShopSettings()
    assert settings.log_level == "DEBUG"
    assert settings.amqp_url == "amqp://mine"


def test_dotenv_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SHOP_HTTP_HOST=0.0.0.0\nSHOP_CONSUMER_PREFETCH=3\nFOLIO_OTEL_SERVICE_NAME=from-file\n"
        "OTHER_SERVICE_DATABASE_URL=postgresql://other\n"
    )
    monkeypatch.setenv("SHOP_CONSUMER_PREFETCH", "7")
    settings = ShopSettings()
    assert settings.http_host == "0.0.0.0"
    assert settings.consumer_prefetch == 7
    assert settings.otel_service_name == "from-file"


@pytest.mark.parametrize(
    ("raw", "expected"), [("2,4, 8", (2.0, 4.0, 8.0)), ("[0.5, 1]", (0.5, 1.0)), ("", ())]
)
def test_retry_delays_take_json_or_commas(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[float, ...]
) -> None:
    monkeypatch.setenv("SHOP_RETRY_DELAYS", raw)
    assert ShopSettings().retry_delays == expected


def test_negative_delay_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_RETRY_DELAYS", "1,-5")
    with pytest.raises(ValidationError):
        ShopSettings()


def test_cached_reads_once_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    class CachedSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="SHOP_")

    monkeypatch.setenv("SHOP_HTTP_PORT", "1234")
    first = CachedSettings.cached()
    monkeypatch.setenv("SHOP_HTTP_PORT", "4321")
    assert CachedSettings.cached() is first
    assert isinstance(first, CachedSettings)
    assert first.http_port == 1234
