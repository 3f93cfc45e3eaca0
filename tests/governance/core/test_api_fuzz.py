"""Schema fuzzing: every API operation, fed what its OpenAPI schema allows, never answers 5xx.

Schemathesis reads the schema drf-spectacular generates in-process and Hypothesis draws
requests for each operation; each request goes through Django's test client once per
persona (an admin, an end user owning a VM, an outsider with no role) against a small
seeded estate (a cluster, nodes, storage, VMs, a pending request, a policy), so path ids
often resolve. Checks on every answer: no 5xx, a documented status code and content
type, a body matching the documented schema, and the one error shape for every 4xx
(validation messages as lists of strings per field).

Bounded and reproducible: ``EXAMPLES`` cases per operation (each sent as three
personas), derandomized Hypothesis, no deadline, no example database. Every operation
is fuzzed and the failures of all of them are reported together. Stateful links
(schemathesis' state machine) are not used: one seeded estate stands in for them.

Nothing reaches a real cluster:
- ``POST /api/inventory/clusters/`` tests the connection to the URL it is given before
  saving, so the connection test is replaced by one that reports "refused": a fuzzed
  URL must not become network traffic.
- The seeded cluster's API URL is on loopback, and side effects queued with
  ``transaction.on_commit`` (syncs, remediations, executions) never run inside the
  test's transaction; execution messages are recorded, not sent (``queued``).
"""

from __future__ import annotations

import json
import traceback
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from django.db import transaction
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.core.transport import Response

from governance.accounts.models import Team, TeamMembership
from governance.accounts.roles import Role
from governance.approvals.models import Request
from governance.audit.models import AuditEvent
from governance.ownership.services import ownership_assign
from inventory.models import Node, Storage, SyncRun, VirtualMachine
from inventory.services import clusters as cluster_services
from inventory.services.connection import ConnectionReport, Problem
from policy.models import Policy
from policy.services.policies import policy_save
from tests.factories import UserFactory
from tests.inventory.estate import make_estate
from tests.shared_fixtures import queued  # noqa: F401 - execution messages stay here

EXAMPLES = 5

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def _openapi() -> dict[str, Any]:
    """The schema as clients download it (rendered to JSON, so lazy strings are plain)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


def _refused(endpoint: Any) -> ConnectionReport:
    return ConnectionReport(
        endpoint=str(endpoint.url), problem=Problem.UNREACHABLE, message="Connection refused."
    )


def _seed() -> dict[str, Any]:
    """The estate and the three personas; returns the personas and the known path values."""
    suffix = uuid.uuid4().hex[:6]
    estate = make_estate(f"fuzz-{suffix}")
    admin = UserFactory(username=f"fuzz-admin-{suffix}", roles=[Role.ADMIN])
    owner = UserFactory(username=f"fuzz-owner-{suffix}", roles=[Role.END_USER])
    outsider = UserFactory(username=f"fuzz-outsider-{suffix}")
    team = Team.objects.create(name=f"Fuzz {suffix}", slug=f"fuzz-{suffix}")
    TeamMembership.objects.create(team=team, user=owner, is_manager=False)
    ownership_assign(actor=admin, vm=estate["web"], owner=owner, team=team, reason="fuzzing")
    from governance.approvals.services.requests import request_submit

    request = request_submit(
        requester=owner,
        kind="ownership_transfer",
        vm=estate["web"],
        parameters={"owner": admin.pk},
        justification="hand over",
        idempotency_key=str(uuid.uuid4()),
    )
    policy = policy_save(
        actor=admin,
        document={
            "name": f"media-{suffix}",
            "kind": "no_removable_media",
            "mode": "audit",
            "scope": {"clusters": [estate["cluster"].name]},
            "parameters": {"check_disks": False, "check_backups": False},
        },
    )
    ids = {
        "/api/approvals/requests/": [request.pk],
        "/api/inventory/vms/": list(VirtualMachine.objects.values_list("pk", flat=True)),
        "/api/ownership/vms/": [estate["web"].pk],
        "/api/inventory/nodes/": list(Node.objects.values_list("pk", flat=True)),
        "/api/inventory/storage/": list(Storage.objects.values_list("pk", flat=True)),
        "/api/inventory/sync-runs/": list(SyncRun.objects.values_list("pk", flat=True)),
        "/api/policy/policies/": [policy.pk],
    }
    known = {
        "name": [estate["cluster"].name],
        "team": [team.slug, team.pk],
        "sequence": list(AuditEvent.objects.values_list("sequence", flat=True)[:5]),
    }
    assert Request.objects.filter(pk=request.pk).exists()
    assert Policy.objects.filter(pk=policy.pk).exists()
    return {
        "personas": {"admin": admin, "owner": owner, "outsider": outsider},
        "ids": ids,
        "known": known,
    }


def _known_values(path: str, seeded: dict[str, Any]) -> dict[str, list]:
    values = dict(seeded["known"])
    for prefix, ids in seeded["ids"].items():
        if path.startswith(prefix) and ids:
            values["id"] = ids
    return values


def _with_known_ids(operation: Any, seeded: dict[str, Any]) -> st.SearchStrategy:
    """Cases whose path parameters are, half the time, values of seeded objects."""
    known = _known_values(operation.path, seeded)

    def resolve(pair: tuple[Any, dict[str, Any]]) -> Any:
        case, chosen = pair
        if case.path_parameters:
            for name, value in chosen.items():
                if name in case.path_parameters:
                    case.path_parameters[name] = value
        return case

    overrides = st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(values) for name, values in known.items() if values}
    )
    return st.tuples(operation.as_strategy(), overrides).map(resolve)


def _send(client: Client, case: Any) -> Response:
    """``case`` through Django's test client (the request as ``requests`` would send it)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    # The schema's cookie scheme makes schemathesis invent a ``sessionid``; the persona's
    # own session (the client's cookie jar) is the credential instead.
    allowed = ("method", "url", "headers", "params", "data", "json", "files")
    prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in allowed}).prepare()
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
    content_type = headers.pop("Content-Type", "application/octet-stream")
    # Each request in its own savepoint, undone when refused: in production a statement
    # PostgreSQL refuses ends only that statement (autocommit), here it would abort the
    # test's whole transaction.
    with transaction.atomic():
        answer = client.generic(
            prepared.method,
            prepared.path_url,
            data=prepared.body or b"",
            content_type=content_type,
            headers=headers,
        )
        if answer.status_code >= 400:
            transaction.set_rollback(True)
    return Response(
        status_code=answer.status_code,
        headers={name: [value] for name, value in answer.headers.items()},
        content=answer.content,
        request=prepared,
        elapsed=0.0,
        verify=True,
    )


def _messages(fields: Any) -> bool:
    """Validation errors: a list of message strings per field, or the same nested."""
    if isinstance(fields, dict):
        return all(_messages(value) for value in fields.values())
    return isinstance(fields, list) and all(isinstance(message, str) for message in fields)


def _error_shape(response: Response) -> None:
    if 400 <= response.status_code < 500:
        body = json.loads(response.content)
        assert set(body) == {"error"}, body
        assert {"code", "message", "request_id"} <= set(body["error"]), body
        assert _messages(body["error"].get("fields", {})), body


@pytest.mark.slow
@pytest.mark.django_db
def test_no_operation_fails_for_any_persona(monkeypatch, queued):  # noqa: F811
    monkeypatch.setattr(cluster_services, "cluster_test_connection", _refused)
    seeded = _seed()
    clients = {}
    for name, user in seeded["personas"].items():
        clients[name] = Client()
        clients[name].force_login(user)
    schema = schemathesis.openapi.from_dict(_openapi())
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, "the schema lost its operations"
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_with_known_ids(operation, seeded))
        def fuzz(case: Any) -> None:
            for persona, client in clients.items():
                response = _send(client, case)
                try:
                    case.validate_response(response, checks=CHECKS)
                    _error_shape(response)
                except (Exception, BaseExceptionGroup) as failure:
                    # schemathesis raises a BaseExceptionGroup, which Hypothesis would not
                    # treat as a failing example.
                    raise AssertionError(f"as {persona}: {failure}") from failure

        try:
            fuzz()
        except Exception:
            # The last frames say where a crash outside the checks came from.
            trace = "".join(traceback.format_exc(limit=-6))
            failures.append(f"{operation.method.upper()} {operation.path}: {trace}")
    assert not failures, "\n\n".join(failures)
