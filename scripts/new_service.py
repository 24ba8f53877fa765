"""Start a new Folio service from the template, with every registration it needs (``make new-service``).

    python scripts/new_service.py NAME [--port PORT] [--root DIR] [--no-lock]

Renders ``templates/service`` (files ending ``.tmpl``; ``{{name}}``, ``{{Name}}``, ``{{NAME}}`` and
``{{port}}`` replaced, ``__name__`` in paths too) into the repository: ``services/NAME``, its contracts
module ``shared/contracts/src/contracts/NAME.py`` and ``deploy/services/NAME``. Then registers the service
wherever the system lists its services (contracts registry, examples and topology; the root pyproject;
Makefile; compose; kustomizations and overlays; Prometheus; the image and deploy-check port tables; the
AsyncAPI documentation app) and regenerates what is generated from them: the contracts' JSON Schemas, the
Kubernetes database and broker manifests, the compose PostgreSQL init script, the AsyncAPI documents, the
EventCatalog pages, and (unless ``--no-lock``) the lock files through ``make lock``.

``--root`` works on another checkout (the template's test renders into a copy); the generators then run
with that checkout's packages first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import keyword
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Names already taken by the workspace's own packages (a service's package shares their import space).
RESERVED = frozenset({"contracts", "chassis", "devstack", "loadgenerator", "folio_ops", "tests", "templates"})


class Refused(Exception):
    """The service cannot be made as asked; the message says why."""


def render(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise Refused(f"the template names {{{{{key}}}}}, which has no value")
        return values[key]

    return PLACEHOLDER.sub(value, text)


def current_ports(root: Path) -> dict[str, int]:
    """The services and their ports, as ``scripts/build_images.sh`` lists them."""
    text = (root / "scripts" / "build_images.sh").read_text()
    found = re.search(r"declare -A PORTS=\(([^)]*)\)", text)
    if found is None:
        raise Refused("scripts/build_images.sh has no PORTS table")
    return {name: int(port) for name, port in re.findall(r"\[(\w+)\]=(\d+)", found.group(1))}


def check_name(name: str, root: Path, ports: dict[str, int]) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9]{0,19}", name) or keyword.iskeyword(name):
        raise Refused(
            f"{name!r} is not a service name: up to 20 lowercase letters and digits, starting with a letter "
            "(a Python package, a Kubernetes name and an environment prefix at once)"
        )
    if name in RESERVED:
        raise Refused(f"{name!r} is the name of one of the workspace's own packages")
    if name in ports or (root / "services" / name).exists():
        raise Refused(f"there is already a service {name!r}")


def check_port(port: int, ports: dict[str, int]) -> None:
    if not 1024 < port < 65536:
        raise Refused(f"port {port} is outside 1025..65535")
    for other, taken in ports.items():
        if taken == port:
            raise Refused(f"port {port} is {other}'s")


def render_tree(template: Path, root: Path, values: dict[str, str], changes: Changes) -> list[Path]:
    written = []
    for source in sorted(template.rglob("*.tmpl")):
        relative = source.relative_to(template)
        if relative.parts[0] == "compose":
            continue
        target = root / str(relative).removesuffix(".tmpl").replace("__name__", values["name"])
        changes.create(target, render(source.read_text(), values))
        written.append(target)
    return written


class Changes:
    """The files to write, held until every edit has succeeded: a refused edit leaves the tree untouched."""

    def __init__(self) -> None:
        self.files: dict[Path, str] = {}

    def create(self, path: Path, text: str) -> None:
        self.files[path] = text

    def edit(self, path: Path, change: Callable[[str], str]) -> None:
        before = self.files[path] if path in self.files else path.read_text()
        after = change(before)
        if after == before:
            raise Refused(f"{path}: nothing changed (has its layout moved?)")
        self.files[path] = after

    def write(self) -> None:
        for path, text in self.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def after_line(pattern: str, addition: str) -> Callable[[str], str]:
    """Insert ``addition`` after the (first) line matching ``pattern``."""

    def change(text: str) -> str:
        found = re.search(rf"^{pattern}.*\n", text, re.MULTILINE)
        if found is None:
            raise Refused(f"no line matching {pattern!r}")
        return text[: found.end()] + addition + text[found.end() :]

    return change


def substitute(pattern: str, replacement: str, flags: int = 0) -> Callable[[str], str]:
    def change(text: str) -> str:
        changed, count = re.subn(pattern, replacement, text, count=1, flags=flags)
        if count != 1:
            raise Refused(f"no match for {pattern!r}")
        return changed

    return change


def register(
    root: Path, template: Path, values: dict[str, str], last: str, last_port: int, changes: Changes
) -> list[Path]:
    """Every place that lists the services, told of the new one. Returns the Python files touched."""
    name, upper, port = values["name"], values["NAME"], values["port"]
    edit = changes.edit
    contracts = root / "shared" / "contracts" / "src" / "contracts"
    edit(
        contracts / "registry.py",
        after_line(f"from contracts.{last} import", f"from contracts.{name} import ItemAdded\n"),
    )
    edit(
        contracts / "registry.py",
        substitute(r"(ALL_MESSAGES: [^=]*= \((?:\n    \w+,)+)\n\)", r"\1\n    ItemAdded,\n)"),
    )
    edit(
        contracts / "examples.py",
        after_line(f"from contracts.{last} import", f"from contracts.{name} import ItemAdded\n"),
    )
    example = (
        '        ItemAdded(item_id=UUID("01890a5d-ac96-774b-bcce-b302099a80ff"), owner_id="user-1", '
        'title="A first item", added_at=NOW),\n'
    )
    edit(
        contracts / "examples.py",
        substitute(r"(def every_message\(\).*?\n)(    \]\n)", rf"\g<1>{example}\2", re.DOTALL),
    )
    topology = contracts / "topology.py"
    edit(topology, substitute(r"(SERVICES: tuple\[str, \.\.\.\] = \([^)]*)\)", rf'\1, "{name}")'))
    # The template's one subscription: the catalog's BookCreated, on queue `<name>.books`.
    queue = f'    "{name}": {{"books": ("folio.catalog.book-created.v1",)}},\n'
    edit(topology, substitute(r"(QUEUES: .*?\n)(\}\n)", rf"\1{queue}\2", re.DOTALL))
    edit(topology, substitute(r"(SENDS_COMMANDS: .*?\n)(\}\n)", rf'\1    "{name}": (),\n\2', re.DOTALL))

    pyproject = root / "pyproject.toml"
    edit(pyproject, after_line(f'    "folio-{last}",', f'    "folio-{name}",\n'))
    edit(pyproject, after_line(f"folio-{last} = ", f"folio-{name} = {{ workspace = true }}\n"))
    edit(pyproject, substitute(rf'(known-first-party = \[[^]]*"{last}")', rf'\1, "{name}"'))
    edit(pyproject, substitute(rf'("services/{last}/src",)', rf'\1 "services/{name}/src",'))
    makefile = root / "Makefile"
    edit(makefile, substitute(rf"^(PACKAGES := .*services/{last})", rf"\1 services/{name}", re.MULTILINE))
    edit(makefile, substitute(r"^(SERVICES := .*)$", rf"\1 {name}", re.MULTILINE))

    edit(
        root / "scripts" / "build_images.sh",
        substitute(r"(declare -A PORTS=\([^)]*)\)", rf"\1 [{name}]={port})"),
    )
    # The default list of images to build, not `local services=()` above it.
    edit(root / "scripts" / "build_images.sh", substitute(rf"(services=\((?:\w+ )*{last})\)", rf"\1 {name})"))
    edit(
        root / "scripts" / "deploy_check.py",
        substitute(r"(SERVICES = \{[^}]*)\}", rf'\1, "{name}": {port}}}'),
    )
    edit(
        root / "scripts" / "gen_asyncapi.py",
        substitute(
            rf'(def {last}_app\(\) -> FastStream:\n    return app\("{last}"\)\n)',
            rf'\1\n\ndef {name}_app() -> FastStream:\n    return app("{name}")\n',
        ),
    )

    deploy = root / "deploy"
    edit(
        deploy / "base" / "kustomization.yaml",
        after_line(f"  - ../services/{last}$", f"  - ../services/{name}\n"),
    )
    for overlay in ("local", "production"):
        edit(
            deploy / "overlays" / overlay / "kustomization.yaml",
            substitute(
                rf"(  - name: folio/{last}\n    newTag: (\S+)\n)",
                rf"\1  - name: folio/{name}\n    newTag: \2\n",
            ),
        )
    config = deploy / "overlays" / "production" / "config.yaml"
    blocks = config.read_text().rstrip("\n").split("\n---\n")
    (own,) = [block for block in blocks if f"name: {last}-config" in block]
    own = own.replace(last, name).replace(last.upper(), upper)
    edit(config, lambda text: text.rstrip("\n") + "\n---\n" + own + "\n")
    monitoring = deploy / "monitoring"
    targets = "".join(
        f'      - targets: ["{name}-{role}:{port}"]\n        labels: {{service: {name}, role: {role}}}\n'
        for role in ("api", "worker")
    )
    edit(
        monitoring / "prometheus-compose.yml",
        substitute(rf'(      - targets: \["{last}-worker:{last_port}"\]\n.*\n)', rf"\g<1>{targets}"),
    )
    edit(monitoring / "prometheus.yml", substitute(rf"(regex: [a-z|]*\b{last})\b", rf"\1|{name}"))

    compose = root / "docker-compose.yml"
    anchor = render((template / "compose" / "anchor.yml.tmpl").read_text(), values)
    entries = render((template / "compose" / "services.yml.tmpl").read_text(), values)
    edit(compose, substitute(r"^services:\n", anchor + "services:\n", re.MULTILINE))
    edit(
        compose,
        substitute(rf"(^  {last}-worker:\n(?:    .*\n|      .*\n)*\n)", rf"\1{entries}", re.MULTILINE),
    )
    return [
        contracts / "registry.py",
        contracts / "examples.py",
        topology,
        root / "scripts" / "gen_asyncapi.py",
        root / "scripts" / "deploy_check.py",
    ]


def regenerate(root: Path, touched: list[Path], lock: bool) -> None:
    """Everything generated from the lists just edited, by its own generator, on ``root``'s packages."""
    sources = [
        root / "shared" / "contracts" / "src",
        root / "shared" / "chassis" / "src",
        *sorted((root / "services").glob("*/src")),
        root / "tools" / "ops" / "src",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(s) for s in sources)}
    bin_dir = Path(sys.executable).parent

    def run(*args: str | Path) -> None:
        print("+", " ".join(str(a) for a in args))
        subprocess.run([str(a) for a in args], cwd=root, env=env, check=True)

    # The edits above insert imports and entries where the last service's were, and the template is formatted
    # for a name of some length: ruff puts both in the house's order and layout.
    run(bin_dir / "ruff", "check", "--quiet", "--fix", "--select", "I", *touched)
    run(bin_dir / "ruff", "format", "--quiet", *touched)
    python = sys.executable
    run(python, "-m", "contracts.schemas", "export")
    run(python, "scripts/gen_k8s_topology.py")
    run(bin_dir / "folio-bootstrap", "export-postgres-init", "--dev", "-o", "compose/postgres/10-folio.sql")
    run(python, "scripts/gen_asyncapi.py")
    run(python, "scripts/gen_eventcatalog.py")
    if lock:
        run("make", "lock")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", help="the service's name: lowercase letters and digits, e.g. shelf")
    parser.add_argument("--port", type=int, help="its HTTP port (default: one above the highest in use)")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout to add it to (default: this one)"
    )
    parser.add_argument(
        "--no-lock", action="store_true", help="skip `make lock` (it resolves from the index)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    template = root / "templates" / "service"
    try:
        ports = current_ports(root)
        check_name(args.name, root, ports)
        port = args.port if args.port is not None else max(ports.values()) + 1
        check_port(port, ports)
        last = list(ports)[-1]
        values = {
            "name": args.name,
            "Name": args.name.capitalize(),
            "NAME": args.name.upper(),
            "port": str(port),
        }
        changes = Changes()
        written = render_tree(template, root, values, changes)
        touched = register(root, template, values, last, ports[last], changes)
        touched += [path for path in written if path.suffix == ".py"]
    except Refused as refused:
        print(f"new-service: {refused}", file=sys.stderr)
        return 2
    changes.write()
    regenerate(root, touched, lock=not args.no_lock)
    print(f"services/{args.name} is ready on port {port}: `make lint test-unit` and commit it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
