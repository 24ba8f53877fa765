"""Each service's committed AsyncAPI document is what its worker and the contracts generate, and is valid."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from contracts.topology import SERVICES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"
HINT = "run `python scripts/gen_asyncapi.py` and commit docs/asyncapi/"


@pytest.fixture(scope="module")
def documents(gen_asyncapi: ModuleType) -> dict[str, dict[str, Any]]:
    generated: dict[str, dict[str, Any]] = gen_asyncapi.generate()  # validates every document
    return generated


def test_committed_documents_are_what_the_workers_generate(
    gen_asyncapi: ModuleType, documents: dict[str, dict[str, Any]]
) -> None:
    assert set(documents) == set(SERVICES)
    assert gen_asyncapi.drift(documents, DOCS) == [], HINT


@pytest.mark.parametrize("service", SERVICES)
def test_committed_document_is_valid(gen_asyncapi: ModuleType, service: str) -> None:
    doc = json.loads((DOCS / f"{service}.json").read_text(encoding="utf-8"))

    assert doc["asyncapi"] == "3.0.0"
    assert gen_asyncapi.validate(service, doc) == []


def test_receive_operations_are_the_workers_own_queues(
    gen_asyncapi: ModuleType, documents: dict[str, dict[str, Any]]
) -> None:
    # One receive per subscriber of the real worker: a twin broker had one per (queue, message type).
    for service, doc in documents.items():
        definition = gen_asyncapi.service_definition(service)
        queues = sorted(f"{service}.{s.handler}" for s in definition.subscriptions())
        receives = sorted(
            doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["bindings"]["amqp"]["queue"]["name"]
            for op in doc["operations"].values()
            if op["action"] == "receive"
        )

        assert receives == queues, service


def test_a_queue_of_several_types_has_their_contracts_as_its_payload(
    documents: dict[str, dict[str, Any]],
) -> None:
    union = documents["rating"]["components"]["schemas"]["rating.book_replica:Message:Payload"]

    assert union["anyOf"] == [
        {"$ref": "#/components/schemas/BookCreated"},
        {"$ref": "#/components/schemas/BookDeleted"},
    ]


def _operation(doc: dict[str, Any], action: str, message_type: str) -> str:
    found: str = next(
        name
        for name, op in doc["operations"].items()
        if op["action"] == action and op["bindings"]["amqp"]["cc"] == [message_type]
    )
    return found


def test_validation_finds_a_payload_that_is_not_the_contract(
    gen_asyncapi: ModuleType, documents: dict[str, dict[str, Any]]
) -> None:
    doc = copy.deepcopy(documents["rating"])
    doc["components"]["schemas"]["BookCreated"]["properties"]["title"]["minLength"] = 3

    assert gen_asyncapi.validate("rating", doc) == [
        "receive: payload of folio.catalog.book-created.v1 differs from its published schema"
    ]


def test_validation_finds_a_missing_message(
    gen_asyncapi: ModuleType, documents: dict[str, dict[str, Any]]
) -> None:
    doc = copy.deepcopy(documents["ordering"])
    del doc["operations"][_operation(doc, "send", "folio.ordering.order-placed.v1")]

    problems = gen_asyncapi.validate("ordering", doc)

    assert len(problems) == 1
    assert "send: folio.ordering.order-placed.v1 is in contracts.topology but not in the document" in problems


def test_validation_finds_a_type_missing_from_a_queues_payload(
    gen_asyncapi: ModuleType, documents: dict[str, dict[str, Any]]
) -> None:
    doc = copy.deepcopy(documents["rating"])
    doc["components"]["schemas"]["rating.book_replica:Message:Payload"]["anyOf"].pop()

    assert gen_asyncapi.validate("rating", doc) == [
        "receive: folio.catalog.book-deleted.v1 is in contracts.topology but not in the document"
    ]


def test_validation_applies_the_asyncapi_schema(
    gen_asyncapi: ModuleType, documents: dict[str, dict[str, Any]]
) -> None:
    doc = copy.deepcopy(documents["notification"])
    doc["asyncapi"] = "2.6.0"
    doc["channels"]["unexpected"] = {"address": 42}

    problems = gen_asyncapi.validate("notification", doc)

    assert "asyncapi version is '2.6.0', expected 3.0.0" in problems
    assert any(p.startswith("AsyncAPI schema: asyncapi:") for p in problems)
    assert any(p.startswith("AsyncAPI schema: channels/unexpected") for p in problems)
