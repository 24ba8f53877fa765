"""Names people give things in the catalog: trimmed, never blank, never unbounded."""

from __future__ import annotations

from catalog.domain.errors import InvalidName

MAX_NAME = 200
MAX_TITLE = 500
MAX_DESCRIPTION = 10_000


def clean_name(value: str, *, field: str = "name", limit: int = MAX_NAME) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidName(f"{field} cannot be blank", field=field)
    if len(cleaned) > limit:
        raise InvalidName(f"{field} is longer than {limit} characters", field=field)
    return cleaned


def clean_description(value: str) -> str:
    cleaned = value.strip()
    if len(cleaned) > MAX_DESCRIPTION:
        raise InvalidName(f"description is longer than {MAX_DESCRIPTION} characters", field="description")
    return cleaned
