"""A customer gives, replaces or deletes their own feedback on a book."""

from __future__ import annotations

from rating.application.commands import DeleteFeedback, SubmitFeedback
from rating.application.ports import RatingUow
from rating.application.views import FeedbackView, SubmitOutcome
from rating.domain.books import open_for_feedback
from rating.domain.errors import NoFeedback
from rating.domain.feedback import Feedback


async def submit_feedback(command: SubmitFeedback, uow: RatingUow) -> SubmitOutcome:
    """Give feedback, or replace the customer's feedback on the book; refused for unknown or deleted books.

    Raises UnknownBook or BookWithdrawn (the replica decides), InvalidStars or InvalidComment.
    """
    open_for_feedback(command.book_id, await uow.books.get(command.book_id))
    await uow.feedback.lock(command.book_id, command.customer_id)
    feedback = await uow.feedback.get(command.book_id, command.customer_id)
    if feedback is None:
        feedback = Feedback.submit(
            book_id=command.book_id,
            customer_id=command.customer_id,
            stars=command.stars,
            comment=command.comment,
            verified_purchase=await uow.purchases.exists(command.customer_id, command.book_id),
        )
        await uow.feedback.add(feedback)
        created = changed = True
    else:
        created = feedback.deleted
        changed = feedback.replace(stars=command.stars, comment=command.comment)
        if changed:
            await uow.feedback.save(feedback)
    uow.track(feedback)
    return SubmitOutcome(FeedbackView.of(feedback), created=created, changed=changed)


async def delete_feedback(command: DeleteFeedback, uow: RatingUow) -> None:
    """Delete the customer's own feedback; also allowed once the book has left the catalog.

    Raises NoFeedback when there is none (never given, or already deleted).
    """
    await uow.feedback.lock(command.book_id, command.customer_id)
    feedback = await uow.feedback.get(command.book_id, command.customer_id)
    if feedback is None:
        raise NoFeedback(command.book_id)
    feedback.delete()
    await uow.feedback.save(feedback)
    uow.track(feedback)
