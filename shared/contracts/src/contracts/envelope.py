"""The CloudEvents 1.0 envelope in AMQP binary mode: attributes travel as headers, the body is the JSON data.

Attribute headers use the AMQP binding's ``cloudEvents_`` prefix; the workflow's correlation and causation
and the W3C trace context travel beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from uuid_utils.compat import uuid7

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
PREFIX = "cloudEvents_"

# Header names, one place for all of them.
ID = f"{PREFIX}id"
SOURCE = f"{PREFIX}source"
TYPE = f"{PREFIX}type"
SPECVERSION = f"{PREFIX}specversion"
TIME = f"{PREFIX}time"
SUBJECT = f"{PREFIX}subject"
DATACONTENTTYPE = f"{PREFIX}datacontenttype"
CORRELATION_ID = "correlation_id"
CAUSATION_ID = "causation_id"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"


class InvalidEnvelope(ValueError):
    """The headers do not carry a usable CloudEvents envelope."""


def new_id() -> UUID:
    return uuid7()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    source: str
    subject: str | None = None
    id: UUID = field(default_factory=new_id)
    time: datetime = field(default_factory=utcnow)
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    def to_headers(self) -> dict[str, str]:
        headers = {
            ID: str(self.id),
            SOURCE: self.source,
            TYPE: self.type,
            SPECVERSION: SPEC_VERSION,
            TIME: self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            DATACONTENTTYPE: CONTENT_TYPE,
        }
        optional = {
            SUBJECT: self.subject,
            CORRELATION_ID: self.correlation_id,
            CAUSATION_ID: self.causation_id,
            TRACEPARENT: self.traceparent,
            TRACESTATE: self.tracestate,
        }
        headers.update({k: v for k, v in optional.items() if v is not None})
        return headers

    @classmethod
    def from_headers(cls, headers: dict[str, Any]) -> Envelope:
        def text(name: str, *, required: bool) -> str | None:
            value = headers.get(name)
            if isinstance(value, bytes):
                value = value.decode()
            if value is None or value == "":
                if required:
                    raise InvalidEnvelope(f"missing header {name}")
                return None
            return str(value)

        if text(SPECVERSION, required=True) != SPEC_VERSION:
            raise InvalidEnvelope(f"unsupported {SPECVERSION}: {headers.get(SPECVERSION)!r}")
        raw_id = text(ID, required=True)
        raw_time = text(TIME, required=True)
        try:
            message_id = UUID(raw_id)
            time = datetime.fromisoformat(str(raw_time).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEnvelope(str(exc)) from exc
        if time.tzinfo is None:
            raise InvalidEnvelope(f"{TIME} must carry a UTC offset")
        return cls(
            id=message_id,
            type=str(text(TYPE, required=True)),
            source=str(text(SOURCE, required=True)),
            subject=text(SUBJECT, required=False),
            time=time,
            correlation_id=text(CORRELATION_ID, required=False),
            causation_id=text(CAUSATION_ID, required=False),
            traceparent=text(TRACEPARENT, required=False),
            tracestate=text(TRACESTATE, required=False),
        )
