"""Schemathesis over every service's OpenAPI, as an admin and as a customer, against the running stack.

Every operation gets valid (positive) and invalid (negative) requests, with generated path parameters and
again with ones naming the stack's real resources (so the handlers behind a 404 are reached too). The
service must never answer 5xx, nor a status code, content type or body its OpenAPI does not document.
Failures are collected across all operations and reported together, counted by kind.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.config import SERVICES
from devstack.stack import Stack

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


Found = dict[tuple[str, str], list[str]]


def _fuzz_operation(
    operation: Any, base_url: str, headers: dict[str, str], found: Found, **fixed: Any
) -> None:
    for mode in MODES:

        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode, **fixed))
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=15)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    _record(found, operation.label, failure, response.status_code)
            except Failure as failure:
                _record(found, operation.label, failure, response.status_code)

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            # Nothing to generate in this mode (no parameter can be made invalid, say).
            continue


def _record(found: Found, label: str, failure: Failure, status: int) -> None:
    samples = found[(type(failure).kind_title, label)]
    if len(samples) < 3:
        first_line = (failure.message.splitlines() or [""])[0]
        samples.append(f"{status}: {failure.title or ''} {first_line[:200]}")


@pytest.mark.parametrize("role", ["admin", "alice"])
@pytest.mark.parametrize("service", SERVICES)
def test_the_api_answers_only_what_its_openapi_documents(
    stack: Stack, world: Any, service: str, role: str
) -> None:
    base_url = stack.config.api_url(service)
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    headers = world.identities[role].headers
    found: Found = defaultdict(list)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "HEAD":
            continue  # the GET it mirrors is fuzzed; HEAD itself is in the auth matrix and test_bad_input
        operations += 1
        _fuzz_operation(operation, base_url, headers, found)
        names = {parameter.name for parameter in operation.path_parameters}
        if names:
            known = world.path_values(operation.method)
            fixed = {name: known[name] for name in names if name in known}
            _fuzz_operation(operation, base_url, headers, found, path_parameters=fixed)
    kinds = Counter(kind for kind, _ in found)
    report = [f"{service} as {role}: {operations} operations, failures by kind: {dict(kinds) or 'none'}"]
    for (kind, label), samples in sorted(found.items()):
        report.append(f"  {kind} | {label}")
        report.extend(f"      {sample}" for sample in samples)
    print("\n".join(report))
    assert not found, "\n".join(report)
