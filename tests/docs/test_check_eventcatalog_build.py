"""The build check finds a missing or empty message page (the Node build itself runs in `make catalog`)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from contracts.registry import ALL_MESSAGES


def fake_build(check: ModuleType, dist: Path) -> None:
    for page, needles in check.expected_pages(check.contracts_wiring()).items():
        (dist / page).parent.mkdir(parents=True, exist_ok=True)
        (dist / page).write_text(f"<html><body>{' '.join(needles)}</body></html>", encoding="utf-8")


def test_a_page_per_message_version(check_eventcatalog_build: ModuleType) -> None:
    pages = check_eventcatalog_build.expected_pages(check_eventcatalog_build.contracts_wiring())

    for model in ALL_MESSAGES:
        kind = "events" if model.KIND == "event" else "commands"
        assert pages[f"docs/{kind}/{model.__name__}/{model.type_version()}.0.0/index.html"] == (model.TYPE,)
    asyncapi = pages["docs/services/OrderingService/0.1.0/asyncapi/asyncapi/index.html"]
    assert {"folio.catalog.reserve-stock.v1", "folio.catalog.stock-reserved.v1"} <= set(asyncapi)


def test_a_complete_build_passes(check_eventcatalog_build: ModuleType, tmp_path: Path) -> None:
    fake_build(check_eventcatalog_build, tmp_path)

    assert check_eventcatalog_build.main(["--dist", str(tmp_path)]) == 0


def test_missing_and_wrong_pages_are_reported(check_eventcatalog_build: ModuleType, tmp_path: Path) -> None:
    fake_build(check_eventcatalog_build, tmp_path)
    (tmp_path / "docs/events/OrderPlaced/1.0.0/index.html").unlink()
    (tmp_path / "docs/commands/ReserveStock/1.0.0/index.html").write_text("<html></html>", encoding="utf-8")

    assert sorted(
        check_eventcatalog_build.problems(tmp_path, check_eventcatalog_build.contracts_wiring())
    ) == [
        "missing page: docs/events/OrderPlaced/1.0.0/index.html",
        "page docs/commands/ReserveStock/1.0.0/index.html does not mention 'folio.catalog.reserve-stock.v1'",
    ]
    assert check_eventcatalog_build.main(["--dist", str(tmp_path)]) == 1


def test_no_build_at_all_is_reported(check_eventcatalog_build: ModuleType, tmp_path: Path) -> None:
    assert check_eventcatalog_build.problems(
        tmp_path / "dist", check_eventcatalog_build.contracts_wiring()
    ) == [f"no build output at {tmp_path / 'dist'}: run the EventCatalog build first"]
