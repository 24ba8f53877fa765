"""Database URLs: every PostgreSQL spelling ends up on asyncpg, and the LISTEN connection gets a libpq DSN."""

from __future__ import annotations

import pytest

from chassis.db import async_url, asyncpg_dsn, create_engine


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@h:5432/d",
        "postgres://u:p@h:5432/d",
        "postgresql+asyncpg://u:p@h:5432/d",
        "postgresql+psycopg://u:p@h:5432/d",
    ],
)
def test_every_spelling_uses_asyncpg(url: str) -> None:
    assert async_url(url).render_as_string(hide_password=False) == "postgresql+asyncpg://u:p@h:5432/d"
    assert asyncpg_dsn(url) == "postgresql://u:p@h:5432/d"


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        async_url("mysql://u@h/d")


async def test_engine_takes_pool_overrides_and_application_name() -> None:
    engine = create_engine("postgresql://u@h/d", pool_size=3, application_name="catalog-api")
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
        assert engine.url.drivername == "postgresql+asyncpg"
    finally:
        await engine.dispose()
