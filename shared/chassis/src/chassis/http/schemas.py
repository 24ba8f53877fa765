"""The base of every request body a Folio API reads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from chassis.http.text import unstorable


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        reason = unstorable(value)
        if reason:
            raise ValueError(f"the text {reason}")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)


class RequestBody(BaseModel):
    """Unknown fields are refused (a misspelt field must not be silently ignored), and so is text that
    PostgreSQL cannot store, in any field at any depth (a 422 naming the field, not a 500 at the database).
    Declare integers ``StrictInt``: JSON ``true`` is not a number."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        _check_text(value)
        return value
