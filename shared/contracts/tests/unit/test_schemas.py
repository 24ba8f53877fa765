import json
from pathlib import Path
from typing import ClassVar

import pytest

from contracts import schemas
from contracts.base import Event, Message
from contracts.registry import ALL_MESSAGES


class Thing(Event):
    """A test-only message."""

    TYPE: ClassVar[str] = "folio.catalog.thing.v1"
    OWNER: ClassVar[str] = "catalog"
    SUBJECT: ClassVar[str] = "name"

    name: str


class ThingWithColour(Event):
    TYPE: ClassVar[str] = "folio.catalog.thing.v1"
    OWNER: ClassVar[str] = "catalog"
    SUBJECT: ClassVar[str] = "name"

    name: str
    colour: str | None = None


class ThingRenamed(Event):
    TYPE: ClassVar[str] = "folio.catalog.thing.v1"
    OWNER: ClassVar[str] = "catalog"
    SUBJECT: ClassVar[str] = "title"

    title: str


def test_the_committed_schemas_match_the_models() -> None:
    assert schemas.drift(ALL_MESSAGES) == []


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_every_model_has_a_committed_schema(model: type[Message]) -> None:
    assert schemas.path_for(model.TYPE).is_file()


def test_a_schema_carries_the_routing_facts_of_its_message() -> None:
    schema = schemas.schema_for(Thing)
    assert schema["x-folio"] == {
        "type": "folio.catalog.thing.v1",
        "owner": "catalog",
        "kind": "event",
        "subject": "name",
        "exchange": "catalog.events",
        "routing_key": "folio.catalog.thing.v1",
    }
    assert schema["$schema"] == schemas.DIALECT


def test_export_writes_sorted_json_with_a_trailing_newline(tmp_path: Path) -> None:
    assert schemas.export([Thing], tmp_path) == [tmp_path / "folio.catalog.thing.v1.json"]
    text = (tmp_path / "folio.catalog.thing.v1.json").read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_export_is_stable_and_rewrites_nothing_the_second_time(tmp_path: Path) -> None:
    schemas.export([Thing], tmp_path)
    assert schemas.export([Thing], tmp_path) == []


def test_check_reports_missing_changed_and_orphaned_files(tmp_path: Path) -> None:
    assert schemas.drift([Thing], tmp_path) == ["missing: folio.catalog.thing.v1.json"]
    schemas.export([Thing], tmp_path)
    assert schemas.drift([Thing], tmp_path) == []
    assert schemas.drift([ThingWithColour], tmp_path) == [
        "out of date: folio.catalog.thing.v1.json (compatible)"
    ]
    (drift,) = schemas.drift([ThingRenamed], tmp_path)
    assert drift.startswith("out of date: folio.catalog.thing.v1.json (name: removed")
    assert schemas.drift([], tmp_path) == ["no model for published schema: folio.catalog.thing.v1.json"]


def test_export_accepts_a_compatible_change_to_a_published_schema(tmp_path: Path) -> None:
    schemas.export([Thing], tmp_path)
    assert schemas.export([ThingWithColour], tmp_path) == [tmp_path / "folio.catalog.thing.v1.json"]


def test_export_refuses_an_incompatible_change_unless_forced(tmp_path: Path) -> None:
    schemas.export([Thing], tmp_path)
    before = (tmp_path / "folio.catalog.thing.v1.json").read_text()
    with pytest.raises(schemas.IncompatibleChange, match="name: removed"):
        schemas.export([ThingRenamed], tmp_path)
    assert (tmp_path / "folio.catalog.thing.v1.json").read_text() == before
    schemas.export([ThingRenamed], tmp_path, force=True)
    assert "title" in (tmp_path / "folio.catalog.thing.v1.json").read_text()


def test_the_command_line_exports_then_checks_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schemas.main(["check", "--dir", str(tmp_path)]) == 1
    assert "missing: folio.catalog.book-created.v1.json" in capsys.readouterr().err
    assert schemas.main(["export", "--dir", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.json"))) == len(ALL_MESSAGES)
    assert schemas.main(["check", "--dir", str(tmp_path)]) == 0


def test_the_command_line_check_fails_on_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schemas.main(["export", "--dir", str(tmp_path)])
    path = tmp_path / "folio.catalog.book-deleted.v1.json"
    path.write_text(path.read_text().replace('"Book Id"', '"Old title"'))
    assert schemas.main(["check", "--dir", str(tmp_path)]) == 1
    assert "out of date: folio.catalog.book-deleted.v1.json (compatible)" in capsys.readouterr().err
