"""What every message has: its CloudEvents type, its owner, and the strict-producer/tolerant-reader rules."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict

from contracts.routing import address

Kind = Literal["event", "command"]


class Message(BaseModel):
    """A message on the bus.

    Producers are strict: a model refuses unknown fields and coerces nothing it should not.
    Consumers are tolerant readers: ``from_wire`` ignores fields a newer producer added.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    # `folio.<owner>.<kebab-name>.v<N>`: the CloudEvents `type`, and the routing key.
    TYPE: ClassVar[str]
    OWNER: ClassVar[str]
    KIND: ClassVar[Kind]
    # The field whose value becomes the CloudEvents `subject` (the entity the message is about).
    SUBJECT: ClassVar[str]

    @classmethod
    def exchange(cls) -> str:
        """The exchange ``contracts.routing.address`` gives this message."""
        return address(cls).exchange

    @classmethod
    def routing_key(cls) -> str:
        return address(cls).routing_key

    # `type_version`/`type_name`, not `version`/`name`: a classmethod would shadow a message field of that
    # name (FeedbackSubmitted has a `version` field) and silently become its default.
    @classmethod
    def type_version(cls) -> int:
        return int(cls.TYPE.rsplit(".v", 1)[1])

    @classmethod
    def type_name(cls) -> str:
        """The message's name without version, e.g. ``order-placed``."""
        return cls.TYPE.split(".")[2]

    def subject_value(self) -> str:
        return str(getattr(self, self.SUBJECT))

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.model_dump_json())
        return data

    @classmethod
    def from_wire(cls, data: bytes | str | dict[str, Any]) -> Self:
        """Validate a received body, ignoring unknown fields (tolerant reader)."""
        if isinstance(data, dict):
            return cls.model_validate(data, extra="ignore")
        return cls.model_validate_json(data, extra="ignore")


class Event(Message):
    KIND: ClassVar[Kind] = "event"


class Command(Message):
    KIND: ClassVar[Kind] = "command"
