"""Check a built EventCatalog: a page for every message version, service, domain and the order workflow.

    python scripts/check_eventcatalog_build.py [--dist eventcatalog/dist]

Run after ``npx eventcatalog build``. A message's page must exist at
``docs/<events|commands>/<id>/<version>/`` and name its CloudEvents type; exits 1 listing every page
that is missing or wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gen_eventcatalog import (  # scripts/ is on the path when run as a script
    CATALOG_DIR,
    Wiring,
    contracts_wiring,
    domain_id,
    message_pages,
    service_id,
    service_version,
)


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
    pages["docs/flows/OrderWorkflow/1.0.0/index.html"] = ("Order workflow",)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dist", type=Path, default=CATALOG_DIR / "dist", help="the build output directory")
    args = parser.parse_args(argv)
    wiring = contracts_wiring()
    found = problems(args.dist, wiring)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        return 1
    count = len(expected_pages(wiring))
    print(f"EventCatalog build OK: {count} pages (every message version, service, AsyncAPI, domain, flow)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
