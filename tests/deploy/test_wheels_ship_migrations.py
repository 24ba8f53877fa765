"""Each service's wheel carries its Alembic scripts, found through importlib.resources once installed.

The images install the wheels, not the checkout: a migration left outside the package would pass every test
run from the source tree and fail in the `migrate` job. Built with uv (what `make setup` installs) into a
folder of its own, then read by a Python that finds the service there before the editable checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chassis.migrations import MigrationScripts

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["catalog", "ordering", "rating", "notification"]

# Prints, for every service, where the package and its scripts were found and which heads Alembic reads.
PROBE = """
import importlib, json, sys
from chassis.migrations import MigrationScripts, packaged_scripts
found = {}
for name in sys.argv[1:]:
    scripts = packaged_scripts(name)
    found[name] = {
        "package": importlib.import_module(name).__file__,
        "scripts": str(scripts),
        "heads": sorted(MigrationScripts.load(scripts).heads),
    }
print(json.dumps(found))
"""


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(found).is_file(), "uv is missing: run `make setup`"
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """The four wheels built and installed into one folder, and what a Python using that folder found."""
    tmp = tmp_path_factory.mktemp("wheels")
    wheels, site = tmp / "dist", tmp / "site"
    for name in SERVICES:
        subprocess.run(
            [uv(), "build", "--wheel", "--quiet", "--out-dir", str(wheels), str(ROOT / "services" / name)],
            check=True,
        )
    subprocess.run(
        [uv(), "pip", "install", "--quiet", "--no-deps", "--python", sys.executable, "--target", str(site)]
        + [str(wheel) for wheel in sorted(wheels.glob("*.whl"))],
        check=True,
    )
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, *SERVICES],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp,
        check=True,
        capture_output=True,
        text=True,
    )
    return site, json.loads(probe.stdout)


@pytest.mark.parametrize("name", SERVICES)
def test_an_installed_wheel_finds_its_migrations(
    name: str, installed: tuple[Path, dict[str, dict[str, Any]]]
) -> None:
    site, everything = installed
    found = everything[name]

    assert Path(found["package"]).is_relative_to(site), "the checkout answered, not the wheel"
    scripts = Path(found["scripts"])
    assert scripts == site / name / "migrations"
    assert (scripts / "env.py").is_file()
    assert (scripts / "script.py.mako").is_file()
    assert any(scripts.glob("versions/0001_*.py"))
    # The same heads as the checkout's scripts: every revision made it into the wheel.
    checkout = ROOT / "services" / name / "src" / name / "migrations"
    assert found["heads"] == sorted(MigrationScripts.load(checkout).heads)
