"""Why a use case cannot go ahead, beyond the domain's own rules (the API maps each to a status)."""

from __future__ import annotations

from uuid import UUID


class ApplicationError(Exception):
    pass


class NotFound(ApplicationError):
    """The thing the request is about does not exist (or no longer does)."""

    def __init__(self, kind: str, id_: UUID) -> None:
        super().__init__(f"{kind} {id_} does not exist")
        self.kind = kind
        self.id = id_


class UnknownReference(ApplicationError):
    """The request names other things (authors, a category) that do not exist; ``field`` says where."""

    def __init__(self, field: str, kind: str, ids: list[UUID]) -> None:
        listed = ", ".join(str(id_) for id_ in ids)
        super().__init__(f"unknown {kind}: {listed}")
        self.field = field
        self.kind = kind
        self.ids = ids


class Conflict(ApplicationError):
    """The request is valid but clashes with what exists (a duplicate ISBN or name)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DuplicateIsbn(Conflict):
    def __init__(self, isbn: str) -> None:
        super().__init__(f"a book with ISBN {isbn} is already in the catalog", field="isbn")
        self.isbn = isbn


class DuplicateName(Conflict):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"a {kind} named {name!r} already exists", field="name")
        self.kind = kind
        self.name = name
