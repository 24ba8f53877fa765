"""The service template, rendered: ``scripts/new_service.py shelf`` in a copy of the repository gives a fifth
service that passes the house's lint, type checks and its own tests, with every registration the system's
own checks look for. Nothing rendered here is ever committed: the copy lives in a temporary directory.

It reuses this checkout's .venv (its interpreter, ruff, mypy, pytest) with ``PYTHONPATH`` and mypy's
``mypy_path`` naming the copy's sources, so that every import of the generated service, of the contracts
module it adds and of the edited packages resolves to the copy, never to this checkout.
Slow-ish (a minute or two): ``pytest -m template tests/template``. Needs the real PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.template, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NAME = "shelf"
EXISTING = ("catalog", "ordering", "rating", "notification")


def run(
    copy: Path, *args: str | Path, check: bool = True, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    sources = [p for pattern in ("shared/*/src", "services/*/src", "tools/*/src") for p in copy.glob(pattern)]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "FOLIO_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in sorted(sources))
    env |= extra_env or {}
    done = subprocess.run(
        [str(a) for a in args], cwd=copy, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    if check and done.returncode != 0:
        command = " ".join(str(a) for a in args)
        pytest.fail(f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def tracked_copy(target: Path) -> Path:
    """The checkout's files as git sees them (tracked, or new and not ignored), without .venv or caches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = ROOT / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    return target


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with ``shelf`` added by the generator, locks included.

    ``make lock`` runs with this checkout's uv (``make setup`` installs one in .tools when none is on PATH)
    and ``UV_OFFLINE`` where uv's cache can resolve the unchanged workspace (the generated service asks for
    nothing the others do not), so the test needs the index only on a machine whose cache is cold: ``make
    setup`` installs from the lock and fills the cache with wheels, not with the index pages
    a resolution reads.
    """
    copy = tracked_copy(tmp_path_factory.mktemp("repository"))
    assert not (copy / "services" / NAME).exists()
    tools = os.pathsep.join(str(p) for p in (ROOT / ".tools" / "bin", BIN) if p.is_dir())
    env = {"PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    uv = shutil.which("uv", path=env["PATH"]) or "uv"
    cached = subprocess.run([uv, "lock", "--offline", "--quiet"], cwd=copy, capture_output=True, check=False)
    if cached.returncode == 0:
        env["UV_OFFLINE"] = "1"
    run(copy, sys.executable, "scripts/new_service.py", NAME, "--root", copy, extra_env=env)
    return copy


def test_the_service_is_rendered_in_the_house_layout(copy: Path) -> None:
    package = copy / "services" / NAME / "src" / NAME
    for module in (
        "domain/items.py",
        "domain/books.py",
        "application/commands.py",
        "application/item_handlers.py",
        "application/book_handlers.py",
        "application/queries.py",
        "application/views.py",
        "application/ports.py",
        "adapters/tables.py",
        "adapters/repositories.py",
        "adapters/reads.py",
        "adapters/message_mapping.py",
        "adapters/unit_of_work.py",
        "entrypoints/definition.py",
        "entrypoints/settings.py",
        "entrypoints/item_api.py",
        "entrypoints/dependencies.py",
        "entrypoints/problems.py",
        "entrypoints/schemas.py",
        "entrypoints/consumers.py",
        "migrations/env.py",
    ):
        assert (package / module).is_file(), module
    assert not list((copy / "services" / NAME).rglob("*.tmpl"))
    assert not list(copy.rglob("*{{*"))
    assert (copy / "shared/contracts/src/contracts/schemas/folio.shelf.item-added.v1.json").is_file()
    assert (copy / "deploy/services/shelf/kustomization.yaml").is_file()
    assert (copy / "docs/asyncapi/shelf.json").is_file()
    assert (copy / "eventcatalog/domains/Shelf/services/ShelfService/index.mdx").is_file()
    assert "  - ../services/shelf\n" in (copy / "deploy/base/kustomization.yaml").read_text()
    assert " shelf" in (copy / "Makefile").read_text().split("SERVICES := ", 1)[1].splitlines()[0]
    images = (copy / "scripts/build_images.sh").read_text()
    assert "[shelf]=8005" in images
    assert "services=(catalog ordering rating notification shelf)" in images
    assert "local only_engine=0 services=()\n" in images
    assert '"folio-shelf"' in (copy / "pyproject.toml").read_text()
    assert "shelf-worker:" in (copy / "docker-compose.yml").read_text()
    topology = (copy / "shared/contracts/src/contracts/topology.py").read_text()
    assert '    "shelf": {"books": ("folio.catalog.book-created.v1",)},\n' in topology


def pins(lock: Path) -> list[str]:
    """A lock's requirements and hashes, without uv's "via" comments."""
    return [line for line in lock.read_text().splitlines() if not line.lstrip().startswith("#")]


def test_the_locks_pin_the_service_and_leave_the_others_pins_alone(copy: Path) -> None:
    service = copy / "services" / NAME
    # The template depends on what rating depends on (contracts, chassis, uuid-utils): the same pins.
    assert pins(service / "requirements.lock") == pins(copy / "services/rating/requirements.lock")
    assert (service / "build-requirements.lock").read_text() == (
        copy / "services/rating/build-requirements.lock"
    ).read_text()
    for lock in ("requirements.lock", *(f"services/{s}/requirements.lock" for s in EXISTING)):
        assert pins(copy / lock) == pins(ROOT / lock), lock


@pytest.mark.parametrize(
    ("name", "why"),
    [("rating", "already a service"), ("Shelf", "not a service name"), ("my_shelf", "not a service name")],
)
def test_a_bad_or_taken_name_is_refused_with_a_reason(copy: Path, name: str, why: str) -> None:
    refused = run(copy, sys.executable, "scripts/new_service.py", name, "--root", copy, check=False)
    assert refused.returncode == 2
    assert why in refused.stderr


def test_a_taken_port_is_refused(copy: Path) -> None:
    refused = run(
        copy, sys.executable, "scripts/new_service.py", "other", "--port", "8003", "--root", copy, check=False
    )
    assert (refused.returncode, "rating's" in refused.stderr) == (2, True)
    assert not (copy / "services" / "other").exists()


def test_a_list_that_moved_is_refused_before_anything_is_written(copy: Path) -> None:
    kustomization = copy / "deploy/base/kustomization.yaml"
    original = kustomization.read_text()
    # shelf is now the last service, the anchor a sixth one is registered after.
    kustomization.write_text(original.replace("  - ../services/shelf\n", ""))
    try:
        refused = run(copy, sys.executable, "scripts/new_service.py", "spare", "--root", copy, check=False)
    finally:
        kustomization.write_text(original)
    assert (refused.returncode, "no line matching" in refused.stderr) == (2, True)
    assert not (copy / "services" / "spare").exists()
    assert '"spare"' not in (copy / "shared/contracts/src/contracts/topology.py").read_text()
    assert "spare" not in (copy / "Makefile").read_text()


def test_everything_is_ruff_clean(copy: Path) -> None:
    run(copy, BIN / "ruff", "check", "--no-cache", ".")
    run(copy, BIN / "ruff", "format", "--no-cache", "--check", ".")


def test_the_service_and_the_edited_contracts_pass_mypy_strict(copy: Path) -> None:
    # The copy's pyproject names services/shelf/src in mypy_path: the generator put it there.
    run(
        copy,
        BIN / "mypy",
        "--strict",
        "--cache-dir",
        copy / ".mypy_cache",
        f"services/{NAME}/src",
        "shared/contracts/src",
    )


def test_the_services_own_unit_and_integration_tests_pass_against_the_real_database(copy: Path) -> None:
    done = run(copy, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"services/{NAME}/tests")
    assert " passed" in done.stdout
    assert "skipped" not in done.stdout


def test_the_contracts_schemas_asyncapi_and_eventcatalog_are_in_step(copy: Path) -> None:
    run(copy, sys.executable, "-m", "contracts.schemas", "check")
    run(copy, sys.executable, "scripts/gen_asyncapi.py", "--check")
    run(copy, sys.executable, "scripts/gen_eventcatalog.py", "--check")


def test_deploy_check_accepts_its_dockerfile_compose_kustomizations_and_manifests(copy: Path) -> None:
    done = run(copy, sys.executable, "scripts/deploy_check.py")
    assert "deploy-check: all good" in done.stdout


def test_the_existing_services_topology_and_bootstrap_tests_still_pass(copy: Path) -> None:
    run(
        copy,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "shared/contracts/tests",
        *sorted(str(p.relative_to(copy)) for p in copy.glob("services/*/tests/unit/test_service_*.py")),
        "shared/chassis/tests/unit/test_topology_names.py",
        "tools/ops/tests/unit",
    )


# What `make up` (`folio-stack up`) would migrate and start, read from the copy's devstack, nothing started.
STACK_PLAN = """
import json
from devstack.config import SERVICES, StackConfig
from devstack.processes import process_specs
specs = {
    s.name: {"argv": list(s.argv), "env": s.env, "ready": s.ready_url} for s in process_specs(StackConfig())
}
print(json.dumps({"services": list(SERVICES), "specs": specs}))
"""


def test_make_up_migrates_and_starts_the_service_and_the_others_keep_their_ports(copy: Path) -> None:
    plan = json.loads(run(copy, sys.executable, "-c", STACK_PLAN).stdout)
    # The list `folio-stack up` migrates (`folio-<service> migrate`) and starts, in order.
    assert plan["services"] == [*EXISTING, NAME]
    specs = plan["specs"]
    script = str(BIN / f"folio-{NAME}")
    assert specs[f"{NAME}-api"] == {
        "argv": [script, "api"],
        "env": {"SHELF_HTTP_PORT": "8005"},
        "ready": "http://127.0.0.1:8005/health/ready",
    }
    assert specs[f"{NAME}-worker"] == {
        "argv": [script, "worker"],
        "env": {"SHELF_HTTP_PORT": "9005"},
        "ready": "http://127.0.0.1:9005/health/ready",
    }
    for place, service in enumerate(EXISTING, start=1):
        assert specs[f"{service}-api"]["env"] == {f"{service.upper()}_HTTP_PORT": str(8000 + place)}
        assert specs[f"{service}-worker"]["env"] == {f"{service.upper()}_HTTP_PORT": str(9000 + place)}
