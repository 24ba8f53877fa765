"""An e-mail's rendered content, fixed when the notification is recorded: every attempt sends the same."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EmailContent:
    subject: str
    text: str
    html: str

    def __post_init__(self) -> None:
        if not self.subject.strip():
            raise ValueError("an e-mail needs a subject")
        if "\n" in self.subject or "\r" in self.subject:
            # A line break in a header would let the content forge further headers.
            raise ValueError("a subject is a single line")
