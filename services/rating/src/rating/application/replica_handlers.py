"""Keep the replica of the catalog's books: BookCreated and BookDeleted, in any order, any number of times."""

from __future__ import annotations

from rating.application.commands import RecordBookCreated, RecordBookDeleted
from rating.application.ports import RatingUow
from rating.domain.books import KnownBook


async def record_book_created(command: RecordBookCreated, uow: RatingUow) -> bool:
    """True when the replica changed (False for a duplicate)."""
    await uow.books.lock(command.book_id)
    book = await uow.books.get(command.book_id)
    if book is None:
        await uow.books.add(KnownBook.created(command.book_id, command.occurred_at))
        changed = True
    else:
        changed = book.record_created(command.occurred_at)
        if changed:
            await uow.books.save(book)
    return changed


async def record_book_deleted(command: RecordBookDeleted, uow: RatingUow) -> bool:
    """True when the replica changed; a deletion heard before the creation leaves a tombstone."""
    await uow.books.lock(command.book_id)
    book = await uow.books.get(command.book_id)
    if book is None:
        await uow.books.add(KnownBook.tombstone(command.book_id, command.occurred_at))
        changed = True
    else:
        changed = book.record_deleted(command.occurred_at)
        if changed:
            await uow.books.save(book)
    return changed
