"""The documentation generators live in scripts/ (not a package): load them by path, once per session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


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
