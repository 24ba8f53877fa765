"""Settings every Folio service shares, read from the environment and a ``.env`` file.

Each service subclasses :class:`ServiceSettings` with its own environment prefix and overrides the defaults
that differ (its database, its port)::

    class CatalogSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="CATALOG_")

        database_url: str = "postgresql://catalog@127.0.0.1:5432/catalog"
        http_port: int = 8001


    get_settings = CatalogSettings.cached  # built on first call, never at import time

``CATALOG_DATABASE_URL=postgresql://... CATALOG_AUTH_LOCAL_SECRET=...`` then configure that service alone.
A variable with the shared ``FOLIO_`` prefix (``FOLIO_AUTH_LOCAL_SECRET``, ``FOLIO_AMQP_URL``,
``FOLIO_LOG_LEVEL``) is a default for every service; the service's own prefix wins over it. Both are also
read from ``.env`` in the working directory, with real environment variables winning over the file.
Lists such as ``retry_delays`` take JSON (``[1, 5, 30]``) or a comma-separated list (``1,5,30``).
"""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from typing import Annotated, Any, Self, cast

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from chassis import defaults
from chassis.auth.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER
from chassis.auth.verifier import DEFAULT_ROLE_CLAIMS

SHARED_ENV_PREFIX = "FOLIO_"


class ServiceSettings(BaseSettings):
    """The knobs of one service process (API and worker roles alike)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        # One .env holds every service's variables; a service ignores the others'.
        extra="ignore",
    )

    database_url: str = "postgresql://postgres@127.0.0.1:5432/folio"
    # The role that owns the schema, for `migrate` only; api and worker connect with `database_url` (a role
    # with DML rights alone). Unset: `migrate` uses `database_url` too.
    migration_database_url: str | None = None
    # Per process. Eight processes share one server locally (PostgreSQL allows 100 connections by default),
    # so the defaults stay small; production raises them with the replica count in mind.
    database_pool_size: int = Field(default=5, ge=1)
    database_max_overflow: int = Field(default=5, ge=0)
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    # For operators' tools (``folio-parked list``); None: port 15672 on the broker's host.
    rabbitmq_management_url: str | None = None

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # Tokens are verified against the OIDC issuer's JWKS in production, or with an HS256 secret for local
    # use; never both (the settings refuse it). Either way iss and aud must match.
    auth_jwks_url: str | None = None
    auth_issuer: str | None = None
    auth_audience: str = LOCAL_AUDIENCE
    auth_local_secret: SecretStr | None = None
    auth_local_issuer: str = LOCAL_ISSUER
    auth_local_audience: str = LOCAL_AUDIENCE
    # Dotted claim paths whose values (lists of strings) are the caller's roles; {audience} is ours.
    auth_role_claims: Annotated[tuple[str, ...], NoDecode] = DEFAULT_ROLE_CLAIMS
    # An unknown key id refetches the JWKS at most this often; the key set is refreshed when this old.
    auth_jwks_min_refresh_seconds: float = Field(default=30.0, ge=1)
    auth_jwks_max_age_seconds: float = Field(default=300.0, ge=1)
    auth_jwks_timeout_seconds: float = Field(default=5.0, gt=0)

    # Request bodies above this are refused with 413 before they are read.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # Load shedding (chassis.http.shedding): past this many requests in flight, one waits this long for a
    # slot, then is answered 503 with this Retry-After, before anything is done; the Retry-After grows by a
    # second for every second the shedding lasts, up to the max.
    http_max_in_flight: int = Field(default=defaults.HTTP_MAX_IN_FLIGHT, ge=1)
    http_max_wait_seconds: float = Field(default=defaults.HTTP_MAX_WAIT_SECONDS, ge=0)
    http_shed_retry_after_seconds: int = Field(default=defaults.HTTP_SHED_RETRY_AFTER_SECONDS, ge=0)
    http_shed_retry_after_max_seconds: int = Field(default=defaults.HTTP_SHED_RETRY_AFTER_MAX_SECONDS, ge=0)
    # An API request waits this long for a database connection, then is answered 503 with that Retry-After.
    http_pool_timeout_seconds: float = Field(default=defaults.HTTP_POOL_TIMEOUT_SECONDS, gt=0)

    log_level: str = "INFO"
    log_json: bool = True
    # An INFO line per HTTP request (uvicorn's access log) and per message received and processed
    # (FastStream's): off by default, as the metrics count both at a fraction of the cost; warnings and
    # errors are logged either way.
    http_access_log: bool = False
    broker_access_log: bool = False

    # Every role runs on uvloop; false: asyncio's own event loop.
    uvloop: bool = True

    otel_exporter_otlp_endpoint: str | None = None
    # None: the service's own name.
    otel_service_name: str | None = None

    # Delay in seconds before each redelivery of a failed message; its length is the number of retries.
    retry_delays: Annotated[tuple[float, ...], NoDecode] = defaults.RETRY_DELAYS
    consumer_prefetch: int = defaults.CONSUMER_PREFETCH
    # How long a consumer holds a delivery while its database is unreachable before it pauses the queue
    # and gives the delivery back (one redelivery per outage). Keep it under the broker's consumer timeout.
    consumer_hold_limit_seconds: float = Field(default=defaults.CONSUMER_HOLD_LIMIT, ge=0)

    outbox_batch_size: int = defaults.OUTBOX_BATCH_SIZE
    # Fallback poll when no NOTIFY arrives (a missed notification, rows whose retry came due).
    outbox_poll_interval: float = defaults.OUTBOX_POLL_INTERVAL
    # The same while the relay's LISTEN connection is up (NOTIFY wakes it then).
    outbox_idle_poll_interval: float = defaults.OUTBOX_IDLE_POLL_INTERVAL
    outbox_retention_hours: float = defaults.OUTBOX_RETENTION / timedelta(hours=1)

    idempotency_retention_hours: float = 24.0

    # How often the worker refreshes its backlog gauges (outbox, parked messages, the service's own).
    metrics_interval_seconds: float = Field(default=15.0, gt=0)

    @field_validator("retry_delays", "auth_role_claims", mode="before")
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("retry_delays")
    @classmethod
    def _non_negative_delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must not be negative")
        return value

    @field_validator("auth_local_secret", "auth_jwks_url", "auth_issuer", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # An optional Secret or ConfigMap key that is absent often arrives as an empty variable.
        return None if value == "" else value

    @field_validator("auth_role_claims")
    @classmethod
    def _no_realm_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(path.split(".")[0] == "realm_access" for path in value):
            raise ValueError("realm-wide roles (realm_access) are not this service's to grant")
        return value

    @model_validator(mode="after")
    def _one_way_to_verify_tokens(self) -> Self:
        if self.auth_jwks_url and self.auth_local_secret is not None:
            raise ValueError(
                "auth_local_secret (FOLIO_AUTH_LOCAL_SECRET) must not be set together with auth_jwks_url: "
                "local HS256 tokens are for development only"
            )
        if self.auth_jwks_url and not self.auth_issuer:
            raise ValueError("auth_jwks_url needs auth_issuer: tokens must come from one known issuer")
        return self

    @model_validator(mode="after")
    def _retry_after_within_its_max(self) -> Self:
        if self.http_shed_retry_after_max_seconds < self.http_shed_retry_after_seconds:
            raise ValueError(
                "http_shed_retry_after_max_seconds must not be below http_shed_retry_after_seconds"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if settings_cls.model_config.get("env_prefix", "") == SHARED_ENV_PREFIX:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        shared_env = EnvSettingsSource(settings_cls, env_prefix=SHARED_ENV_PREFIX)
        shared_dotenv = DotEnvSettingsSource(settings_cls, env_prefix=SHARED_ENV_PREFIX)
        return init_settings, env_settings, dotenv_settings, shared_env, shared_dotenv, file_secret_settings

    @classmethod
    def cached(cls) -> Self:
        """The settings of this class, read once per process on first use."""
        return cast("Self", _load(cls))


@functools.cache
def _load(settings_cls: type[ServiceSettings]) -> ServiceSettings:
    return settings_cls()
