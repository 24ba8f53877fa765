"""Value types the messages share: nested-model base, UTC times, ISBNs, e-mail addresses, non-empty text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints, WithJsonSchema


class Part(BaseModel):
    """A model nested inside a message: strict for producers like ``Message``.

    Tolerance on the way in comes from ``Message.from_wire``, whose ``extra="ignore"`` reaches nested models.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Naive datetimes are refused (AwareDatetime); any offset is accepted and normalised to UTC.
UtcDateTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]

# ASCII digits only: `\d` would also accept other scripts' digits.
ISBN_PATTERN = r"^[0-9]{13}$"
Isbn = Annotated[str, StringConstraints(pattern=ISBN_PATTERN)]

# Deliberately loose (no dependency on email-validator): one @, no spaces; `admin@localhost` is valid in dev.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
_EMAIL_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "email",
    "pattern": EMAIL_PATTERN,
    "maxLength": 320,
}
Email = Annotated[
    str, StringConstraints(pattern=EMAIL_PATTERN, max_length=320), WithJsonSchema(_EMAIL_SCHEMA)
]

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
