"""Rating's settings: the chassis knobs under the ``RATING_`` prefix."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from chassis import ServiceSettings


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_")

    database_url: str = "postgresql://rating@127.0.0.1:5432/rating"
    http_port: int = 8003
