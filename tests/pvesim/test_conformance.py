"""pvesim's own declarations held against the official PVE 9.1 schema.

For every declared method (all spec modules, whoever wrote them): the method exists in the
schema, parameters match one to one (type, optional flag, enum, range, length, format,
pattern, requires), world/allowtoken flags match, a handler is registered, requests built
from the schema validate, broken ones fail with PVE's messages, and every GET answers with
data that validates against the method's ``returns`` schema.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from pvesim.api.router import load_handlers
from pvesim.spec import all_methods
from pvesim.spec.types import (
    MSG_MISSING,
    MSG_UNKNOWN,
    PROPERTY_STRINGS,
    Method,
    Param,
    ParamError,
)
from tests.pvesim.conftest import Sim
from tests.pvesim.pve_schema import (
    SCHEMA_PATH,
    check_returns,
    number,
    perl_to_python,
    sample_value,
    schema_index,
)

METHODS = sorted(all_methods().values(), key=lambda m: (m.path, m.method))
IDS = [f"{m.method} {m.path}" for m in METHODS]
TYPES = {"string", "integer", "number", "boolean", "array"}


def _schema_params(method: Method) -> dict[str, dict[str, Any]]:
    info = schema_index()[method.key]
    return info.get("parameters", {}).get("properties", {})


def test_schema_file_is_present() -> None:
    assert SCHEMA_PATH.exists(), f"official schema missing: {SCHEMA_PATH}"
    assert len(schema_index()) >= 600


def test_every_declared_method_has_a_handler() -> None:
    handlers = load_handlers()
    missing = [f"{m.method} {m.path}" for m in METHODS if m.key not in handlers]
    assert not missing


def _mismatches(param: Param, schema: dict[str, Any]) -> list[str]:
    problems = []
    kind = schema.get("type", "string")
    if param.type != kind:
        problems.append(f"type {param.type} != {kind}")
    if param.optional != bool(schema.get("optional")):
        problems.append(f"optional {param.optional} != {bool(schema.get('optional'))}")
    enum = tuple(schema["enum"]) if "enum" in schema else None
    if (set(param.enum) if param.enum else None) != (set(enum) if enum else None):
        problems.append(f"enum {param.enum} != {enum}")
    for bound in ("minimum", "maximum"):
        if getattr(param, bound) != number(schema.get(bound)):
            problems.append(f"{bound} {getattr(param, bound)} != {schema.get(bound)}")
    for ours, theirs in (("min_length", "minLength"), ("max_length", "maxLength")):
        if getattr(param, ours) != schema.get(theirs):
            problems.append(f"{theirs} {getattr(param, ours)} != {schema.get(theirs)}")
    fmt = schema.get("format")
    if isinstance(fmt, dict):
        if param.property_string is None:
            problems.append("schema has a property-string format; declare pstr:NAME")
        elif param.property_string in PROPERTY_STRINGS:
            declared = {k.lstrip("*") for k in PROPERTY_STRINGS[param.property_string]}
            keys = {k for k, v in fmt.items() if isinstance(v, dict) and "alias" not in v}
            if not declared <= set(fmt):
                problems.append(f"pstr keys not in schema: {sorted(declared - set(fmt))}")
            if not keys <= declared:
                problems.append(f"pstr keys missing: {sorted(keys - declared)}")
    elif param.format != fmt:
        problems.append(f"format {param.format} != {fmt}")
    if fmt is not None and not isinstance(fmt, dict) and param.property_string:
        problems.append("pstr declared for a named format")
    pattern = perl_to_python(schema["pattern"]) if "pattern" in schema else None
    if (perl_to_python(param.pattern) if param.pattern else None) != pattern:
        problems.append(f"pattern {param.pattern!r} != {pattern!r}")
    if param.requires != schema.get("requires"):
        problems.append(f"requires {param.requires} != {schema.get('requires')}")
    default = schema.get("default")
    if param.default is not None and str(default) != param.default:
        problems.append(f"default {param.default} != {default}")
    return problems


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_declaration_matches_schema(method: Method) -> None:
    assert method.key in schema_index(), f"{method.method} {method.path} is not a PVE method"
    info = schema_index()[method.key]
    schema_params = _schema_params(method)
    assert set(method.parsed) == set(schema_params), (
        f"extra: {sorted(set(method.parsed) - set(schema_params))}, "
        f"missing: {sorted(set(schema_params) - set(method.parsed))}"
    )
    problems = {
        name: issues
        for name, param in method.parsed.items()
        if (issues := _mismatches(param, schema_params[name]))
    }
    assert not problems
    assert method.allowtoken == bool(info.get("allowtoken", 1))
    assert method.world == (info.get("permissions", {}).get("user") == "world")
    for segment in method.path.split("/"):
        if segment.startswith("{"):
            assert segment[1:-1] in method.parsed, f"path variable {segment} undeclared"


def _concrete(name: str) -> str:
    return name.replace("[n]", "0")


def _valid_request(method: Method) -> dict[str, str]:
    request = {}
    for name, schema in _schema_params(method).items():
        value = sample_value(schema)
        if value is not None:
            request[_concrete(name)] = value
    return request


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_schema_built_requests_are_accepted(method: Method) -> None:
    request = _valid_request(method)
    required = [n for n, s in _schema_params(method).items() if not s.get("optional")]
    missing = [n for n in required if _concrete(n) not in request]
    assert not missing, f"cannot build samples for required {missing}"
    try:
        method.validate(request)
    except ParamError as exc:
        pytest.fail(f"valid request refused: {exc.errors} (request {request})")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _bad_values(schema: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(value, exact expected message or None for "some error") breaking one constraint."""
    kind = schema.get("type", "string")
    cases: list[tuple[str, str | None]] = []
    if kind == "integer":
        cases.append(("abc", "type check ('integer') failed - got 'abc'"))
        cases.append(("1.5", "type check ('integer') failed - got '1.5'"))
    elif kind == "number":
        cases.append(("abc", "type check ('number') failed - got 'abc'"))
    elif kind == "boolean":
        cases.append(("true", "type check ('boolean') failed - got 'true'"))
        cases.append(("True", "type check ('boolean') failed - got 'True'"))
    if kind in ("integer", "number"):
        for bound, step, word in (("minimum", -1, "minimum"), ("maximum", 1, "maximum")):
            limit = number(schema.get(bound))
            if limit is not None:
                cases.append(
                    (_num(limit + step), f"value must have a {word} value of {_num(limit)}")
                )
    if kind == "string":
        if "enum" in schema:
            expected = ", ".join(schema["enum"])
            cases.append(
                ("zz-no", f"value 'zz-no' does not have a value in the enumeration '{expected}'")
            )
        elif "maxLength" in schema and "format" not in schema and "pattern" not in schema:
            cases.append(
                (
                    "a" * (schema["maxLength"] + 1),
                    f"value may only be {schema['maxLength']} characters long",
                )
            )
        if "pattern" in schema:
            pattern = re.compile(perl_to_python(schema["pattern"]))
            bad = next((v for v in (" \x01", "\x01\x02", "") if not pattern.fullmatch(v)), None)
            if bad:
                cases.append((bad, None))
    return cases


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_bad_requests_are_refused_like_pve(method: Method) -> None:
    base = _valid_request(method)
    with pytest.raises(ParamError) as unknown:
        method.validate({**base, "zz-bogus": "1"})
    assert unknown.value.errors == {"zz-bogus": MSG_UNKNOWN}
    for name, schema in _schema_params(method).items():
        key = _concrete(name)
        if not schema.get("optional") and key in base:
            with pytest.raises(ParamError) as missing:
                method.validate({k: v for k, v in base.items() if k != key})
            assert missing.value.errors.get(key) == MSG_MISSING
        for value, message in _bad_values(schema):
            with pytest.raises(ParamError) as bad:
                method.validate({**base, key: value})
            assert key in bad.value.errors, f"{key}={value!r} accepted"
            if message is not None:
                assert bad.value.errors[key] == message


# ---- answers against ``returns`` -----------------------------------------------------------


def _path_values(sim: Sim) -> dict[str, dict[str, str]]:
    """Concrete values for path variables, per guest kind."""
    cluster = sim.cluster
    estate = cluster.estate
    values: dict[str, dict[str, str]] = {}
    for kind in ("qemu", "lxc"):
        guest = max(
            (g for g in estate.guests.values() if g.kind == kind and not g.is_template),
            key=lambda g: len(g.snapshots),
        )
        snap = next(iter(guest.snapshots), "none")
        storage = next((s for s in estate.storages.values() if s.available_on(guest.node)), None)
        values[kind] = {
            "node": guest.node,
            "vmid": str(guest.vmid),
            "snapname": snap,
            "storage": storage.storage if storage else "local",
        }
        stored = [
            (key[0], volid)
            for key, volumes in estate.volumes.items()
            if key[1] in (guest.node, "")
            for volid in volumes
        ]
        if stored:
            values[kind]["storage"], volid = stored[0]
            values[kind]["volume"] = quote(volid, safe="")
    task = cluster.tasks.start(
        now=cluster.now(),
        node=values["qemu"]["node"],
        type="qmstart",
        id=values["qemu"]["vmid"],
        user="root@pam",
        steps=[(0, "starting")],
    )
    common = {
        "upid": task.upid,
        "userid": "root@pam",
        "tokenid": "steward",
        "roleid": "PVEAdmin",
        "groupid": "conformance",
        "poolid": next(iter(estate.pools), "prod"),
        "sid": next(iter(estate.ha_resources), "vm:100"),
        "rule": next(iter(estate.ha_rules), "rule1"),
        "group": next(iter(estate.fw_groups), "web"),
        "id": next(iter(estate.backup_jobs), "job1"),
        "pos": "0",
        "realm": "pve",
    }
    for kind in values:
        values[kind] = {**common, **values[kind]}
    return values


def test_every_get_answers_per_returns_schema(sim: Sim) -> None:
    from pvesim.access import Group

    sim.cluster.access.groups["conformance"] = Group("conformance")
    values = _path_values(sim)
    problems: dict[str, Any] = {}
    answered = 0
    for method in METHODS:
        if method.method != "GET":
            continue
        kind = "lxc" if "/lxc" in method.path else "qemu"
        path = method.path
        for name, value in values[kind].items():
            path = path.replace("{" + name + "}", value)
        if "{" in path:
            problems[method.path] = "no sample for a path variable"
            continue
        query = None
        if "import-metadata" in path:  # its volume is a query parameter: an appliance
            node = next(
                n
                for (s, n), v in sim.cluster.estate.volumes.items()
                if any(volid.endswith(".ova") for volid in v)
            )
            path = f"/nodes/{node}/storage/local/import-metadata"
            query = {"volume": "import/legacy-erp.ova"}  # PVE prefixes the storage itself
        response = sim.api("GET", path, params=query)
        if response.status_code != 200:
            problems[method.path] = f"{response.status_code} {response.reason}"
            continue
        answered += 1
        issues = check_returns(
            schema_index()[method.key].get("returns", {}), response.json()["data"]
        )
        if issues:
            problems[method.path] = issues[:5]
    # Methods that legitimately refuse with these samples (e.g. PVE 9 HA groups) are listed
    # with their status; anything else is a conformance failure.
    allowed_refusals = {"/cluster/ha/groups", "/cluster/ha/groups/{group}"}
    unexpected = {p: v for p, v in problems.items() if p not in allowed_refusals}
    assert not unexpected, unexpected
    assert answered > 0
