"""The feedback API on a real database: submit, replace, delete, read, and what it refuses."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from contracts.rating import FeedbackDeleted, FeedbackSubmitted

pytestmark = pytest.mark.integration


async def test_a_customer_gives_feedback_and_it_is_announced_through_the_outbox(rating) -> None:
    book = uuid4()
    await rating.book_created(book)

    response = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine",
        json={"stars": 4, "comment": " Quiet "},
        headers=rating.auth("alice"),
    )

    assert response.status_code == 201
    assert response.headers["location"] == f"/api/v1/books/{book}/feedback/mine"
    body = response.json()
    assert body | {"id": None, "submitted_at": None} == {
        "id": None,
        "book_id": str(book),
        "customer_id": "alice",
        "stars": 4,
        "comment": "Quiet",
        "verified_purchase": False,
        "version": 1,
        "submitted_at": None,
    }
    (message,) = await rating.outbox_messages()
    assert isinstance(message, FeedbackSubmitted)
    assert (message.feedback_id, message.customer_id, message.stars, message.version) == (
        UUID(body["id"]),
        "alice",
        4,
        1,
    )


async def test_a_second_submission_replaces_the_first_with_a_new_version(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    first = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 4}, headers=rating.auth("alice")
    )

    second = await rating.api.post(
        f"/api/v1/books/{book}/feedback",
        json={"stars": 2, "comment": "On reflection, no"},
        headers=rating.auth("alice"),
    )

    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert (second.json()["stars"], second.json()["version"]) == (2, 2)
    assert await rating.feedback_rows() == 1
    versions = [
        (m.stars, m.version) for m in await rating.outbox_messages() if isinstance(m, FeedbackSubmitted)
    ]
    assert versions == [(4, 1), (2, 2)]


async def test_submitting_the_same_feedback_again_changes_nothing_and_announces_nothing(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 5}, headers=rating.auth("alice")
    )

    again = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 5}, headers=rating.auth("alice")
    )

    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert await rating.outbox_rows() == 1


async def test_customers_each_have_their_own_feedback_on_a_book(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 5}, headers=rating.auth("alice")
    )
    await rating.api.put(f"/api/v1/books/{book}/feedback/mine", json={"stars": 1}, headers=rating.auth("bob"))

    alices = await rating.api.get(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))
    bobs = await rating.api.get(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("bob"))

    assert (alices.json()["stars"], bobs.json()["stars"]) == (5, 1)


async def test_a_customer_deletes_their_feedback_and_the_deletion_is_announced(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    given = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 3}, headers=rating.auth("alice")
    )

    deleted = await rating.api.delete(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))

    assert deleted.status_code == 204
    mine = await rating.api.get(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))
    assert mine.status_code == 404
    listed = await rating.api.get(f"/api/v1/books/{book}/feedback")
    assert listed.json()["total"] == 0
    last = (await rating.outbox_messages())[-1]
    assert isinstance(last, FeedbackDeleted)
    assert (str(last.feedback_id), last.version) == (given.json()["id"], 2)


async def test_deleting_feedback_one_does_not_have_is_a_404_problem(rating) -> None:
    book = uuid4()
    await rating.book_created(book)

    response = await rating.api.delete(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/no-feedback")


async def test_feedback_given_again_after_deletion_is_created_anew_and_keeps_numbering(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 3}, headers=rating.auth("alice")
    )
    await rating.api.delete(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))

    again = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 3}, headers=rating.auth("alice")
    )

    assert again.status_code == 201
    assert again.json()["version"] == 3


async def test_feedback_on_a_book_rating_never_heard_of_is_refused_with_404_unknown_book(rating) -> None:
    book = uuid4()

    response = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 4}, headers=rating.auth("alice")
    )

    assert response.status_code == 404
    problem = response.json()
    assert problem["type"].endswith("/unknown-book")
    assert problem["detail"] == f"book {book} is not in the catalog."
    assert await rating.feedback_rows() == 0
    assert await rating.outbox_rows() == 0


async def test_feedback_on_a_deleted_book_is_refused_with_404_book_deleted(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    await rating.book_deleted(book)

    response = await rating.api.post(
        f"/api/v1/books/{book}/feedback", json={"stars": 4}, headers=rating.auth("alice")
    )

    assert response.status_code == 404
    assert response.json()["type"].endswith("/book-deleted")
    assert "removed from the catalog" in response.json()["detail"]
    assert await rating.feedback_rows() == 0


async def test_feedback_on_a_book_deleted_since_can_still_be_read_and_deleted_by_its_author(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 4}, headers=rating.auth("alice")
    )
    await rating.book_deleted(book)

    mine = await rating.api.get(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))
    deleted = await rating.api.delete(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))

    assert (mine.status_code, deleted.status_code) == (200, 204)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stars": 0}, "stars"),
        ({"stars": 6}, "stars"),
        ({"stars": "4"}, "stars"),
        ({"stars": 4.5}, "stars"),
        ({"stars": True}, "stars"),
        ({}, "stars"),
        ({"stars": 4, "comment": 7}, "comment"),
        ({"stars": 4, "comment": "x" * 2001}, "comment"),
        ({"stars": 4, "customer_id": "mallory"}, "customer_id"),
    ],
)
async def test_bad_feedback_is_a_422_problem_naming_the_field_and_changes_nothing(
    rating, body: dict[str, object], field: str
) -> None:
    book = uuid4()
    await rating.book_created(book)

    response = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json=body, headers=rating.auth("alice")
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}
    assert await rating.feedback_rows() == 0
    assert await rating.outbox_rows() == 0


async def test_malformed_json_is_a_422_problem_and_changes_nothing(rating) -> None:
    book = uuid4()
    await rating.book_created(book)

    response = await rating.api.post(
        f"/api/v1/books/{book}/feedback",
        content=b'{"stars": 4,',
        headers={**rating.auth("alice"), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"
    assert await rating.feedback_rows() == 0


async def test_a_book_id_that_is_not_a_uuid_is_a_422_problem(rating) -> None:
    response = await rating.api.get("/api/v1/books/not-a-uuid/summary")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "book_id"


async def test_giving_or_deleting_feedback_needs_a_valid_token(rating) -> None:
    book = uuid4()
    await rating.book_created(book)

    anonymous = await rating.api.put(f"/api/v1/books/{book}/feedback/mine", json={"stars": 4})
    forged = await rating.api.delete(
        f"/api/v1/books/{book}/feedback/mine", headers={"Authorization": "Bearer not.a.token"}
    )

    assert (anonymous.status_code, forged.status_code) == (401, 401)
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_a_repeated_idempotency_key_answers_as_the_first_request_did(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    headers = {**rating.auth("alice"), "Idempotency-Key": "feedback-1"}
    url = f"/api/v1/books/{book}/feedback"

    first = await rating.api.post(url, json={"stars": 4, "comment": "Good"}, headers=headers)
    # Alice changes her mind in between: the retried request must not undo that.
    await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 1}, headers=rating.auth("alice")
    )
    again = await rating.api.post(url, json={"stars": 4, "comment": "Good"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    mine = await rating.api.get(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))
    assert (mine.json()["stars"], mine.json()["version"]) == (1, 2)
    assert await rating.outbox_rows() == 2


async def test_an_idempotency_key_reused_for_another_request_is_a_422_problem(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    headers = {**rating.auth("alice"), "Idempotency-Key": "feedback-2"}
    await rating.api.post(f"/api/v1/books/{book}/feedback", json={"stars": 4}, headers=headers)

    other = await rating.api.post(f"/api/v1/books/{book}/feedback", json={"stars": 5}, headers=headers)

    assert other.status_code == 422
    assert other.json()["title"] == "Idempotency Key Reused"


async def test_a_refused_submission_leaves_its_idempotency_key_free_for_a_retry(rating) -> None:
    book = uuid4()
    headers = {**rating.auth("alice"), "Idempotency-Key": "feedback-3"}
    refused = await rating.api.post(f"/api/v1/books/{book}/feedback", json={"stars": 4}, headers=headers)
    await rating.book_created(book)

    retried = await rating.api.post(f"/api/v1/books/{book}/feedback", json={"stars": 4}, headers=headers)

    assert (refused.status_code, retried.status_code) == (404, 201)
