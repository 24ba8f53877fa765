"""A completed order vouches for its customer's feedback on its books, given before or after."""

from __future__ import annotations

from rating.application.commands import RecordOrderCompleted
from rating.application.ports import RatingUow
from rating.domain.purchases import VerifiedPurchase


async def record_order_completed(command: RecordOrderCompleted, uow: RatingUow) -> int:
    """Record the verified purchases and mark existing feedback; returns how many feedbacks changed.

    Feedback given later reads the recorded purchase when it is submitted.
    """
    purchases = VerifiedPurchase.of_order(
        order_id=command.order_id,
        customer_id=command.customer_id,
        book_ids=command.book_ids,
        completed_at=command.completed_at,
    )
    # In book order, like every other holder of several of these locks, so that none of them deadlock.
    for purchase in purchases:
        await uow.feedback.lock(purchase.book_id, purchase.customer_id)
    await uow.purchases.add(purchases)
    changed = 0
    for purchase in purchases:
        feedback = await uow.feedback.get(purchase.book_id, purchase.customer_id)
        if feedback is not None and feedback.mark_verified():
            await uow.feedback.save(feedback)
            uow.track(feedback)
            changed += 1
    return changed
