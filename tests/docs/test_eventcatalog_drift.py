"""The committed EventCatalog is exactly what the contracts generate: no drift, ever."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
import yaml

from contracts.base import Message
from contracts.catalog import BookDeleted
from contracts.registry import ALL_MESSAGES
from contracts.schemas import export, path_for
from contracts.topology import SENDS_COMMANDS, SERVICES, SUBSCRIPTIONS

CATALOG = Path(__file__).resolve().parents[2] / "eventcatalog"
HINT = "run `python scripts/gen_eventcatalog.py` and commit eventcatalog/"


def front_matter(text: str) -> dict[str, Any]:
    assert text.startswith("---\n")
    data: dict[str, Any] = yaml.safe_load(text.split("---\n", 2)[1])
    return data


def tree(directory: Path, gen: ModuleType) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in sorted(gen.owned_files(directory))}


def test_committed_catalog_is_what_the_contracts_generate(
    gen_eventcatalog: ModuleType, tmp_path: Path
) -> None:
    gen_eventcatalog.write(gen_eventcatalog.render_catalog(), tmp_path)

    committed, generated = tree(CATALOG, gen_eventcatalog), tree(tmp_path, gen_eventcatalog)

    differ = sorted(
        name for name in committed.keys() & generated.keys() if committed[name] != generated[name]
    )
    assert not differ, f"out of date: {differ}; {HINT}"
    assert not generated.keys() - committed.keys(), f"missing: {sorted(generated.keys() - committed.keys())}"
    assert not committed.keys() - generated.keys(), f"stale: {sorted(committed.keys() - generated.keys())}"


def test_check_mode_agrees(gen_eventcatalog: ModuleType) -> None:
    assert gen_eventcatalog.main(["--check"]) == 0, HINT


def test_every_message_has_a_page_and_its_published_schema(gen_eventcatalog: ModuleType) -> None:
    files = gen_eventcatalog.render_catalog()
    for model in ALL_MESSAGES:
        [page] = [n for n in files if n.endswith(f"/{gen_eventcatalog.message_id(model)}/index.mdx")]
        data = front_matter(files[page])
        assert data["version"] == f"{model.type_version()}.0.0"
        assert data["schemaPath"] == "schema.json"
        assert f"/services/{gen_eventcatalog.service_id(model.OWNER)}/" in page
        schema = files[page.replace("index.mdx", "schema.json")]
        assert schema == path_for(model.TYPE).read_text(encoding="utf-8")
        assert json.loads(schema)["x-folio"]["type"] == model.TYPE


def test_services_send_and_receive_what_the_topology_says(gen_eventcatalog: ModuleType) -> None:
    files = gen_eventcatalog.render_catalog()
    by_id = {(gen_eventcatalog.message_id(m), f"{m.type_version()}.0.0"): m.TYPE for m in ALL_MESSAGES}
    for service in SERVICES:
        sid = gen_eventcatalog.service_id(service)
        data = front_matter(files[f"domains/{service.capitalize()}/services/{sid}/index.mdx"])
        sends = {by_id[(p["id"], p["version"])] for p in data["sends"]}
        receives = {by_id[(p["id"], p["version"])] for p in data.get("receives", [])}
        own_events = {m.TYPE for m in ALL_MESSAGES if service == m.OWNER and m.KIND == "event"}
        assert sends == own_events | set(SENDS_COMMANDS[service])
        assert receives == set(SUBSCRIPTIONS[service])
        domain = front_matter(files[f"domains/{service.capitalize()}/index.mdx"])
        assert [s["id"] for s in domain["services"]] == [sid]


def test_the_order_flows_name_real_messages_and_steps(gen_eventcatalog: ModuleType) -> None:
    files = gen_eventcatalog.render_catalog()
    pages = {(gen_eventcatalog.message_id(m), f"{m.type_version()}.0.0") for m in ALL_MESSAGES}
    services = {gen_eventcatalog.service_id(s) for s in SERVICES}
    named: set[str] = set()
    for flow in gen_eventcatalog.order_flows():
        data = front_matter(files[f"flows/{flow.id}/index.mdx"])
        ids = {step["id"] for step in data["steps"]}
        for step in data["steps"]:
            following = step.get("next_steps", [step["next_step"]] if "next_step" in step else [])
            assert {n["id"] if isinstance(n, dict) else n for n in following} <= ids, step["id"]
            if "message" in step:
                assert (step["message"]["id"], step["message"]["version"]) in pages
                named.add(step["message"]["id"])
            if "service" in step:
                assert step["service"]["id"] in services
    assert {
        "ReserveStock",
        "StockReserved",
        "StockReservationRejected",
        "ReleaseStock",
        "StockReleased",
    } <= named


def _longest_path(following: dict[str, list[str]], step: str, seen: frozenset[str] = frozenset()) -> int:
    if step in seen:
        return 0
    return 1 + max((_longest_path(following, n, seen | {step}) for n in following[step]), default=0)


def test_each_flow_is_short_enough_to_read_as_it_opens(gen_eventcatalog: ModuleType) -> None:
    for flow in gen_eventcatalog.order_flows():
        following = {
            step["id"]: [n["id"] if isinstance(n, dict) else n for n in step.get("next_steps", [])]
            + ([step["next_step"]] if "next_step" in step else [])
            for step in flow.steps
        }
        assert max(_longest_path(following, step) for step in following) <= 4, flow.id


def test_every_page_has_valid_front_matter(gen_eventcatalog: ModuleType) -> None:
    for name, text in gen_eventcatalog.render_catalog().items():
        if name.endswith(".mdx"):
            data = front_matter(text)
            assert {"id", "name", "version"} <= data.keys(), name


class BookDeletedV2(BookDeleted):
    """A book was removed from the catalog, and why."""

    TYPE: ClassVar[str] = "folio.catalog.book-deleted.v2"

    why: str


def test_an_older_version_goes_to_a_versioned_folder(gen_eventcatalog: ModuleType, tmp_path: Path) -> None:
    messages: tuple[type[Message], ...] = (*ALL_MESSAGES, BookDeletedV2)
    export(messages, tmp_path)
    receives = {**SUBSCRIPTIONS, "rating": ("folio.catalog.book-created.v1", "folio.catalog.book-deleted.v2")}
    wiring = gen_eventcatalog.Wiring(SERVICES, receives, SENDS_COMMANDS, messages)

    files = gen_eventcatalog.render_catalog(wiring, asyncapi={}, schema_dir=tmp_path)

    base = "domains/Catalog/services/CatalogService/events/BookDeleted"
    assert front_matter(files[f"{base}/index.mdx"])["version"] == "2.0.0"
    assert "why" in json.loads(files[f"{base}/schema.json"])["properties"]
    old = front_matter(files[f"{base}/versioned/1.0.0/index.mdx"])
    assert old["version"] == "1.0.0"
    assert "deprecated" in old
    assert "why" not in json.loads(files[f"{base}/versioned/1.0.0/schema.json"])["properties"]
    catalog = front_matter(files["domains/Catalog/services/CatalogService/index.mdx"])
    events = {"id": "catalog.events", "version": "1.0.0"}
    assert {"id": "BookDeleted", "version": "2.0.0", "to": [events]} in catalog["sends"]
    assert {"id": "BookDeleted", "version": "1.0.0", "to": [events]} in catalog["sends"]
    rating = front_matter(files["domains/Rating/services/RatingService/index.mdx"])
    assert {"id": "BookDeleted", "version": "2.0.0", "from": [events]} in rating["receives"]


def test_write_removes_what_it_no_longer_generates(gen_eventcatalog: ModuleType, tmp_path: Path) -> None:
    files = gen_eventcatalog.render_catalog()
    gen_eventcatalog.write(files, tmp_path)
    stale = tmp_path / "domains" / "Catalog" / "services" / "CatalogService" / "events" / "Gone" / "index.mdx"
    stale.parent.mkdir(parents=True)
    stale.write_text("---\nid: Gone\n---\n")
    (tmp_path / "package.json").write_text("{}")  # not the generator's: left alone

    assert gen_eventcatalog.drift(files, tmp_path) == [
        "not generated (remove it): domains/Catalog/services/CatalogService/events/Gone/index.mdx"
    ]
    gen_eventcatalog.write(files, tmp_path)

    assert not stale.parent.exists()
    assert (tmp_path / "package.json").exists()
    assert gen_eventcatalog.drift(files, tmp_path) == []


def test_a_topology_naming_an_unknown_type_is_refused(gen_eventcatalog: ModuleType) -> None:
    wiring = gen_eventcatalog.Wiring(SERVICES, {"rating": ("folio.catalog.nope.v1",)}, {}, ALL_MESSAGES)
    with pytest.raises(ValueError, match=r"folio\.catalog\.nope\.v1"):
        gen_eventcatalog.render_catalog(wiring, asyncapi={})
