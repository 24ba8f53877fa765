"""The EventCatalog site as a reader meets it: built from the committed content with the locked packages,
served on 127.0.0.1 and opened in headless Chromium. The home page, every message page (schema and example
visible), every service page and each part of the order workflow open without a console error or a failed
request, each workflow opens legible, and the site wears Folio's name and logo (EventCatalog's own links
and page-title prefix stay: its licence reserves removing them to paid plans).

Needs npm (for `npm install`, which brings Node 22) and Debian's chromium: where either is missing the
test skips, except under CI, where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.docs.conftest import SiteBuild

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "eventcatalog"
UNDER_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if UNDER_CI:
        pytest.fail(f"{reason}: CI must provide it (apt-get install chromium npm)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site(check_eventcatalog_build: ModuleType, site_build: SiteBuild) -> Path:
    if shutil.which("npm") is None:
        _unavailable("npm not found")
    if not Path(check_eventcatalog_build.BROWSER).exists():
        _unavailable(f"chromium not found at {check_eventcatalog_build.BROWSER}")
    # Started in the background when these tests were collected (tests/docs/conftest.py).
    code, output = site_build.wait()
    assert code == 0, f"EventCatalog build failed:\n{output}"
    return CATALOG / "dist"


def test_the_lock_records_no_download_address(site: Path) -> None:
    # After the build's `npm install`, which rewrites the lock before it is stripped again.
    lock = (CATALOG / "package-lock.json").read_text()
    packages = json.loads(lock)["packages"]
    assert [name for name, entry in packages.items() if "resolved" in entry or "funding" in entry] == []
    assert re.findall(r"https?://[^\"]+", lock) == []


def test_the_build_has_a_page_for_everything(site: Path, check_eventcatalog_build: ModuleType) -> None:
    assert check_eventcatalog_build.problems(site, check_eventcatalog_build.contracts_wiring()) == []


def test_every_page_opens_in_chromium_without_errors(
    site: Path, check_eventcatalog_build: ModuleType, tmp_path: Path
) -> None:
    picture = tmp_path / "flow.png"

    problems = check_eventcatalog_build.browse(site, check_eventcatalog_build.contracts_wiring(), picture)

    assert problems == []
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_site_wears_folios_name_and_logo(site: Path) -> None:
    home = (site / "index.html").read_text(encoding="utf-8")

    assert '<img src="/folio-logo.svg" alt="Folio"' in home
    assert re.search(r"<h1[^>]*>\s*Folio\s*</h1>", home)
    assert "The messages Folio's services exchange" in home
    assert (site / "folio-logo.svg").read_text(encoding="utf-8").startswith("<svg")
    pages = [p for p in site.rglob("*.html")]
    assert [p for p in pages if "FlowMart" in p.read_text(encoding="utf-8", errors="replace")] == []
