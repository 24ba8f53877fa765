"""The documentation generators live in scripts/ (not a package): load them by path, once per session.

The EventCatalog site takes minutes to install and build, on about one core. When its tests are collected
the build starts at once, in the background, so that it runs beside the tests collected before them (the
machine has two cores) instead of after them; the ``site`` fixture waits for it.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
SITE_TESTS = "test_eventcatalog_site.py"


class SiteBuild:
    """``scripts/build_eventcatalog.sh`` running in the background, its output kept in a file."""

    def __init__(self) -> None:
        # Closed in stop(), at the end of the session: the build outlives any one block.
        self._output = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(SCRIPTS / "build_eventcatalog.sh")], stdout=self._output, stderr=subprocess.STDOUT
        )

    def wait(self) -> tuple[int, str]:
        """The build's exit code and the end of its output, once it has finished."""
        code = self._process.wait()
        self._output.seek(0)
        return code, self._output.read().decode(errors="replace")[-6000:]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)
        self._output.close()


_builds: list[SiteBuild] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or shutil.which("npm") is None:
        return
    if any(item.path.name == SITE_TESTS for item in session.items):
        _builds.append(SiteBuild())


def pytest_sessionfinish(session: pytest.Session) -> None:
    for build in _builds:
        build.stop()


@pytest.fixture(scope="session")
def site_build() -> SiteBuild:
    """The build started when the site's tests were collected (started now if it was not)."""
    if not _builds:
        _builds.append(SiteBuild())
    return _builds[0]


def load_script(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running: dataclasses look their module up by name.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gen_eventcatalog() -> ModuleType:
    return load_script("gen_eventcatalog")


@pytest.fixture(scope="session")
def gen_asyncapi() -> ModuleType:
    return load_script("gen_asyncapi")


@pytest.fixture(scope="session")
def check_eventcatalog_build(gen_eventcatalog: ModuleType) -> ModuleType:
    # Imports gen_eventcatalog by name, as it does when run from scripts/.
    return load_script("check_eventcatalog_build")
