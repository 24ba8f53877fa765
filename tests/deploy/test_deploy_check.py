"""What Folio deploys: images, compose and the Kubernetes overlays pass their validators and Folio's rules,
the rules have teeth, and every generated file matches its generator."""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from folio_ops.bootstrap.cli import service_env
from folio_ops.bootstrap.definitions import build

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"catalog": 8001, "ordering": 8002, "rating": 8003, "notification": 8004}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"folio_{name}", ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load("deploy_check")
topology = _load("gen_k8s_topology")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    config, errors = check.render_compose()
    assert errors == []
    assert config is not None
    return dict(config)


@functools.cache
def _rendered(overlay: str) -> tuple[tuple[dict[str, Any], ...], tuple[str, ...]]:
    docs, errors = check.render_overlay(overlay)
    return tuple(docs), tuple(errors)


def render_overlay(overlay: str) -> tuple[list[dict[str, Any]], list[str]]:
    """``kubectl kustomize`` once per overlay and test run (it takes seconds); a fresh copy each call."""
    docs, errors = _rendered(overlay)
    return copy.deepcopy(list(docs)), list(errors)


@pytest.fixture(scope="module", params=check.OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    docs, errors = render_overlay(request.param)
    assert errors == []
    return request.param, docs


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


# --- images ------------------------------------------------------------------------------------------------


def test_dockerfiles_pass_hadolint_and_the_image_rules() -> None:
    assert check.check_dockerfiles() == []


@pytest.mark.parametrize("name", SERVICES)
def test_the_image_places_no_migrations_by_path(name: str) -> None:
    definition = ROOT / "services" / name / "src" / name / "entrypoints" / "definition.py"
    # Package data found by importlib.resources (tests/deploy/test_wheels_ship_migrations.py installs it).
    assert f'MIGRATIONS_DIR = packaged_scripts("{name}")' in definition.read_text()
    assert "parents[3]" not in definition.read_text()
    dockerfile = check.DOCKERFILE.read_text()
    assert "cp -r" not in dockerfile
    assert "python3.11/" not in dockerfile


def test_the_image_context_holds_only_the_workspace_packages_code_and_locks() -> None:
    lines = (ROOT / "services" / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*"
    tops = {"services", "shared", "tools"}
    # Each top folder let in, emptied of everything below its packages, then refilled with the four kinds.
    assert {f"!{top}/" for top in tops} <= set(patterns)
    for top in tops:
        assert patterns.index(f"!{top}/") < patterns.index(f"{top}/*/*")
    refilled = [line[1:] for line in patterns if line.startswith("!") and not line.endswith("/")]
    assert min(patterns.index(f"!{path}") for path in refilled) > patterns.index("tools/*/*")
    assert {path.split("/", 2)[2] for path in refilled} == {
        "pyproject.toml",
        "requirements.lock",
        "build-requirements.lock",
        "src",
    }
    assert {path.split("/", 1)[0] for path in refilled} == tops


def test_image_rules_have_teeth() -> None:
    text = check.DOCKERFILE.read_text()
    broken = text.replace("USER 10001:10001", "USER root").replace("EXPOSE ${PORT}", "EXPOSE 8000")
    broken += "RUN cp -r services/x/migrations /opt/venv/lib/python3.11/migrations\n"
    errors = "\n".join(check.dockerfile_rules(broken))
    assert "a numeric non-root user" in errors
    assert "the service's port exposed" in errors
    assert "hard-coded python3.11 folder" in errors
    script = check.BUILD_SCRIPT.read_text().replace("[rating]=8003", "[rating]=8030")
    assert "PORTS are" in "\n".join(check.build_script_rules(script))


# --- compose -----------------------------------------------------------------------------------------------


def test_compose_is_valid_and_follows_the_rules(compose: dict[str, Any]) -> None:
    assert check.compose_rules(compose) == []
    for name in SERVICES:
        assert {f"{name}-migrate", f"{name}-api", f"{name}-worker"} <= compose["services"].keys()


def test_compose_refuses_to_start_without_the_secrets() -> None:
    binary = check.compose_binary()
    result = subprocess.run(
        [str(binary), "--project-directory", str(ROOT), "--env-file", os.devnull, "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert result.returncode != 0
    assert "FOLIO_AUTH_LOCAL_SECRET" in result.stderr or "POSTGRES_PASSWORD" in result.stderr


def test_compose_service_urls_are_the_bootstraps(compose: dict[str, Any]) -> None:
    expected = service_env(
        build(env={}, dev=True),
        {
            "FOLIO_POSTGRES_ADMIN_URL": "postgresql://postgres@postgres:5432/postgres",
            "FOLIO_RABBITMQ_AMQP_URL": "amqp://rabbitmq:5672",
        },
    )
    for name in SERVICES:
        for role in ("api", "worker"):
            env = compose["services"][f"{name}-{role}"]["environment"]
            for key in (f"{name.upper()}_DATABASE_URL", f"{name.upper()}_AMQP_URL"):
                assert env[key] == expected[key], (role, key)
            # The runtime role only: api and worker never get the owner's credentials.
            assert f"{name.upper()}_MIGRATION_DATABASE_URL" not in env
        migrate = compose["services"][f"{name}-migrate"]["environment"]
        key = f"{name.upper()}_MIGRATION_DATABASE_URL"
        assert migrate[key] == expected[key]


def test_compose_broker_definitions_come_from_the_bootstrap(compose: dict[str, Any], tmp_path: Path) -> None:
    """Run the broker-definitions service's own command here, with .env.example's admin password."""
    service = compose["services"]["broker-definitions"]
    # The tools image runs the console script its build names (services/Dockerfile's COMMAND).
    assert service["image"].startswith("folio/ops:")
    assert service["build"]["args"]["COMMAND"] == "folio-bootstrap"
    assert service["build"]["args"]["PACKAGE"] == "tools/ops"
    command = list(service["command"])
    output = command[command.index("--output") + 1]
    command[command.index("--output") + 1] = str(tmp_path / "definitions.json")
    env = {"PATH": os.environ.get("PATH", ""), **service["environment"]}
    subprocess.run([str(check.BIN / "folio-bootstrap"), *command], check=True, env=env)
    document = json.loads((tmp_path / "definitions.json").read_text())

    definitions = build(env={}, dev=True)
    users = {u["name"]: u for u in document["users"]}
    assert set(users) == {"admin", *(s.amqp_user for s in definitions.services)}
    assert users["admin"]["tags"] == ["administrator"]
    assert [v["name"] for v in document["vhosts"]] == [definitions.vhost]
    permissions = {p["user"]: (p["configure"], p["write"], p["read"]) for p in document["permissions"]}
    for access in definitions.services:
        expected = (access.permissions.configure, access.permissions.write, access.permissions.read)
        assert permissions[access.amqp_user] == expected
    assert {q["name"] for q in document["queues"]} == {q.name for q in definitions.queues}
    assert len(document["bindings"]) == len(definitions.bindings)

    # The broker loads exactly the file written there, from the shared volume.
    conf = (ROOT / "compose" / "rabbitmq" / "folio.conf").read_text()
    loaded = re.search(r"^load_definitions = (.+)$", conf, re.M)
    assert loaded is not None
    volume = next(v for v in service["volumes"] if v["target"] == str(Path(output).parent))
    broker_mount = next(
        v for v in compose["services"]["rabbitmq"]["volumes"] if v.get("source") == volume["source"]
    )
    assert Path(loaded.group(1)) == Path(broker_mount["target"]) / Path(output).name
    assert compose["services"]["rabbitmq"]["depends_on"]["broker-definitions"]["condition"] == (
        "service_completed_successfully"
    )


def test_no_real_secret_is_committed() -> None:
    example = (ROOT / ".env.example").read_text()
    for line in example.splitlines():
        if "PASSWORD=" in line or "SECRET=" in line:
            assert "dev" in line.split("=", 1)[1], line
    compose_text = (ROOT / "docker-compose.yml").read_text()
    for variable in ("POSTGRES_PASSWORD", "FOLIO_RABBITMQ_ADMIN_PASSWORD", "FOLIO_AUTH_LOCAL_SECRET"):
        # Required from the environment, never defaulted in the file.
        assert re.search(rf"\${{{variable}:\?", compose_text), variable


# --- Kubernetes --------------------------------------------------------------------------------------------


def test_overlay_passes_kubernetes_validate_strict(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    overlay, docs = rendered
    builtin = [d for d in docs if check.is_builtin(d)]
    assert {"Deployment", "Job", "Service", "NetworkPolicy", "HorizontalPodAutoscaler"} <= {
        d["kind"] for d in builtin
    }
    assert check.validate_builtin(builtin, overlay) == []


def test_overlay_custom_resources_match_the_vendored_schemas(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    overlay, docs = rendered
    custom = [d for d in docs if not check.is_builtin(d)]
    assert {d["kind"] for d in custom} == {
        "Cluster",
        "RabbitmqCluster",
        "Vhost",
        "Exchange",
        "User",
        "Permission",
        "TopicPermission",
        "Queue",
        "Binding",
    }
    assert check.validate_custom(custom, overlay) == []


def test_overlay_follows_folios_rules(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    overlay, docs = rendered
    assert check.kubernetes_rules(docs, overlay) == []


def test_every_service_has_hardened_api_and_worker_with_probes(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    for name, port in SERVICES.items():
        for role in ("api", "worker"):
            deployment = _find(docs, "Deployment", f"{name}-{role}")
            pod = deployment["spec"]["template"]["spec"]
            container = pod["containers"][0]
            assert container["args"] == [role]
            assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
            assert container["ports"] == [{"name": "http", "containerPort": port}]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
            env = {e["name"]: e for e in container["env"]}
            # The runtime role, never the owner's Secret.
            assert env[f"{name.upper()}_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
                "name": f"{name}-db-runtime",
                "key": "password",
            }
            assert f"@{name}-db-rw:5432/folio_{name}" in env[f"{name.upper()}_DATABASE_URL"]["value"]
            assert not any(
                e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == f"{name}-db-app"
                for e in env.values()
            )
        migrate = _find(docs, "Job", f"{name}-migrate")["spec"]["template"]["spec"]["containers"][0]
        assert migrate["args"] == ["migrate"]
        assert {e["name"]: e for e in migrate["env"]}[f"{name.upper()}_MIGRATION_DATABASE_URL"]["valueFrom"][
            "secretKeyRef"
        ] == {"name": f"{name}-db-app", "key": "uri"}
        cluster = _find(docs, "Cluster", f"{name}-db")["spec"]
        database = cluster["bootstrap"]["initdb"]
        assert (database["database"], database["owner"]) == (f"folio_{name}", f"folio_{name}")
        assert [r["name"] for r in cluster["managed"]["roles"]] == [f"folio_{name}_runtime"]


@pytest.mark.parametrize("name", SERVICES)
def test_each_services_own_kustomization_renders_exactly_its_part_of_the_base(name: str) -> None:
    docs, errors = check.render_kustomization(f"deploy/services/{name}", name)
    assert errors == []
    base, errors = check.render_kustomization("deploy/base", "base")
    assert errors == []
    assert check.validate(docs, name) == []
    assert check.service_rules(docs, name, base) == []
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Job", "Service", "NetworkPolicy", "HorizontalPodAutoscaler"} <= kinds
    # Its database and broker user are generated into the base, for every service at once.
    assert not kinds & {"Cluster", "User", "Permission"}
    generated = {
        (d["kind"], d["metadata"]["name"])
        for file in ("postgres.yaml", "rabbitmq.yaml")
        for d in yaml.safe_load_all((ROOT / "deploy" / "base" / file).read_text())
        if d
    }
    mine = [
        d for d in base if check._owner(d) == name and (d["kind"], d["metadata"]["name"]) not in generated
    ]
    assert sorted(docs, key=str) == sorted(mine, key=str)


def test_a_services_own_kustomization_holds_nothing_else_and_nothing_changed() -> None:
    docs, _ = check.render_kustomization("deploy/services/rating", "rating")
    base, _ = check.render_kustomization("deploy/base", "base")
    broken, worker = _mutated(docs, "Deployment", "rating-worker")
    worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 5
    broken.append(copy.deepcopy(_find(base, "Deployment", "catalog-api")))
    errors = "\n".join(check.service_rules(broken, "rating", base))
    assert "holds objects of others: ['Deployment/catalog-api']" in errors
    assert "Deployment/rating-worker differs from what deploy/base renders" in errors


def test_no_production_manifest_carries_a_local_token_secret() -> None:
    production, _ = render_overlay("production")
    assert "FOLIO_AUTH_LOCAL_SECRET" not in yaml.safe_dump_all(production)
    assert "folio-auth" not in yaml.safe_dump_all(production)
    local, _ = render_overlay("local")
    for name in SERVICES:
        for role in ("api", "worker"):
            container = _find(local, "Deployment", f"{name}-{role}")["spec"]["template"]["spec"][
                "containers"
            ][0]
            assert "FOLIO_AUTH_LOCAL_SECRET" in {e["name"] for e in container["env"]}


def test_only_folios_workers_and_the_operators_reach_the_broker() -> None:
    docs, _ = render_overlay("production")
    policy = _find(docs, "NetworkPolicy", "folio-broker-ingress")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "folio-broker"}
    amqp = [rule for rule in policy["ingress"] if {"protocol": "TCP", "port": 5672} in rule.get("ports", [])]
    assert len(amqp) == 1
    (peer,) = amqp[0]["from"]
    # An api writes to its outbox only; the workers' relays and consumers are the broker's only clients.
    assert peer["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/part-of": "folio", "app.kubernetes.io/component": "worker"}
    }
    for name in SERVICES:
        ingress = _find(docs, "NetworkPolicy", f"{name}-db-ingress")["spec"]["ingress"]
        clients = ingress[0]["from"][0]["podSelector"]["matchLabels"]
        assert clients == {"app.kubernetes.io/name": name}


def test_overlays_differ_in_size_and_tags() -> None:
    local, _ = render_overlay("local")
    production, _ = render_overlay("production")
    for name in SERVICES:
        assert _find(local, "Deployment", f"{name}-api")["spec"]["replicas"] == 1
        assert _find(production, "Deployment", f"{name}-api")["spec"]["replicas"] == 3
        assert _find(local, "Cluster", f"{name}-db")["spec"]["instances"] == 1
        assert _find(production, "Cluster", f"{name}-db")["spec"]["instances"] == 3
        image = _find(production, "Deployment", f"{name}-worker")["spec"]["template"]["spec"]["containers"][
            0
        ]["image"]
        assert image == f"folio/{name}:0.1.0"
    assert _find(local, "RabbitmqCluster", "folio-broker")["spec"]["replicas"] == 1
    assert _find(production, "RabbitmqCluster", "folio-broker")["spec"]["replicas"] == 3
    assert {d["metadata"].get("namespace") for d in production if d["kind"] != "Namespace"} == {"folio"}


def test_notification_alone_may_reach_smtp() -> None:
    docs, _ = render_overlay("production")
    for name in SERVICES:
        egress = _find(docs, "NetworkPolicy", f"{name}-egress")["spec"]["egress"]
        ports = {p["port"] for rule in egress for p in rule.get("ports", [])}
        assert (587 in ports) is (name == "notification"), name


# --- the rules have teeth ----------------------------------------------------------------------------------


def _mutated(docs: list[dict[str, Any]], kind: str, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    copied = copy.deepcopy(docs)
    return copied, _find(copied, kind, name)


def test_rules_catch_a_weakened_manifest() -> None:
    docs, _ = render_overlay("local")
    broken, worker = _mutated(docs, "Deployment", "rating-worker")
    container = worker["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    del container["readinessProbe"]
    container["image"] = "registry.example.com/folio/rating:latest"
    errors = "\n".join(check.kubernetes_rules(broken, "local"))
    assert "root filesystem must be read-only" in errors
    assert "/health/ready" in errors
    assert "names a registry host" in errors
    assert "no pinned tag" in errors

    broken, policy = _mutated(docs, "NetworkPolicy", "ordering-egress")
    policy["spec"]["egress"][1]["to"][0]["podSelector"]["matchLabels"] = {"cnpg.io/cluster": "catalog-db"}
    errors = "\n".join(check.kubernetes_rules(broken, "local"))
    assert "reaches another service's database" in errors

    broken = [d for d in docs if not (d["kind"] == "Job" and d["metadata"]["name"] == "catalog-migrate")]
    broken.append(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leak"}, "stringData": {"a": "b"}}
    )
    errors = "\n".join(check.kubernetes_rules(broken, "local"))
    assert "no Job/catalog-migrate" in errors
    assert "Secret/leak is committed" in errors


def test_validators_catch_unknown_fields() -> None:
    docs, _ = render_overlay("local")
    _, cluster = _mutated(docs, "Cluster", "catalog-db")
    cluster["spec"]["instancez"] = 2
    _, permission = _mutated(docs, "Permission", "catalog")
    del permission["spec"]["vhost"]
    errors = check.validate_custom([cluster, permission], "local")
    assert any("instancez" in e for e in errors)
    assert any("'vhost' is a required property" in e for e in errors)

    _, api = _mutated(docs, "Deployment", "catalog-api")
    api["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    assert any("httpGett" in e for e in check.validate_builtin([api], "local"))

    unknown = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}}
    assert "no schema" in check.validate_custom([unknown], "local")[0]


def test_compose_rules_catch_a_missing_wait(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["services"]["rating-api"]["depends_on"]["rating-migrate"]
    broken["services"]["ordering-worker"]["healthcheck"] = {"disable": True}
    del broken["services"]["notification-migrate"]
    broken["services"]["catalog-api"]["build"]["args"]["PORT"] = "8002"
    errors = "\n".join(check.compose_rules(broken))
    assert "catalog-api: build args must be SERVICE=catalog PORT=8001" in errors
    assert "rating-api: must wait for rating-migrate" in errors
    assert "ordering-worker: needs a healthcheck" in errors
    assert "notification needs notification-migrate" in errors


def test_main_exits_non_zero_on_any_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(check.CHECKS, "generated", lambda: ["something is stale"])
    assert check.main(["--only", "generated"]) == 1
    monkeypatch.setitem(check.CHECKS, "generated", lambda: [])
    assert check.main(["--only", "generated"]) == 0


# --- generated files ---------------------------------------------------------------------------------------


def test_generated_files_match_their_generators() -> None:
    assert check.check_generated() == []


def test_postgres_init_is_the_bootstrap_exporters_output(tmp_path: Path) -> None:
    """The committed script is exactly what the documented command writes (development passwords)."""
    output = tmp_path / "init.sql"
    env = {k: v for k, v in os.environ.items() if not re.fullmatch(r"FOLIO_\w+_DB_PASSWORD", k)}
    subprocess.run(
        [str(check.BIN / "folio-bootstrap"), "export-postgres-init", "--dev", "-o", str(output)],
        check=True,
        env=env,
    )
    assert (ROOT / "compose" / "postgres" / "10-folio.sql").read_text() == output.read_text()


def test_kubernetes_permissions_are_the_bootstraps() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "base" / "rabbitmq.yaml").read_text()))
    definitions = build(env={}, dev=True)
    permissions = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Permission"}
    assert set(permissions) == set(SERVICES)
    for access in definitions.services:
        spec = permissions[access.service]
        assert spec["vhost"] == definitions.vhost
        assert spec["userReference"] == {"name": access.service}
        assert spec["permissions"] == {
            "configure": access.permissions.configure,
            "write": access.permissions.write,
            "read": access.permissions.read,
        }
    exchanges = {(d["spec"]["name"], d["spec"]["type"]) for d in docs if d["kind"] == "Exchange"}
    assert exchanges == {(e.name, e.type) for e in definitions.exchanges}
    topic = {
        (d["spec"]["userReference"]["name"], *d["spec"]["permissions"].values())
        for d in docs
        if d["kind"] == "TopicPermission"
    }
    assert topic == {
        (a.service, p.exchange, p.write, p.read) for a in definitions.services for p in a.topic_permissions
    }
    queues = {d["spec"]["name"]: d["spec"] for d in docs if d["kind"] == "Queue"}
    assert {name: {"x-queue-type": spec["type"], **spec["arguments"]} for name, spec in queues.items()} == {
        q.name: dict(q.arguments) for q in definitions.queues
    }
    bindings = {
        (d["spec"]["source"], d["spec"]["destination"], d["spec"]["routingKey"])
        for d in docs
        if d["kind"] == "Binding"
    }
    assert bindings == {(b.source, b.queue, b.routing_key) for b in definitions.bindings}
    assert topology.render() == (ROOT / "deploy" / "base" / "rabbitmq.yaml").read_text()
