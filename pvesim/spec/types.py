"""The compact parameter DSL and the request validator built on it.

Every implemented method is declared once, in a per-domain module of ``pvesim.spec``, as a
:class:`Method` whose parameters are compact spec strings::

    Method("GET", "/nodes/{node}/tasks/{upid}/log", {
        "node": "str fmt:pve-node",
        "upid": "str",
        "start": "?int 0.. =0",
        "limit": "?int 0.. =50",
        "download": "?bool",
    })

Grammar of a spec string (whitespace separated tokens, ``re:`` must come last):

* type, first: ``str``, ``int``, ``num``, ``bool``, ``array``; a leading ``?`` marks it optional
* ``enum:a|b|c``        string enumeration (implies ``str``)
* ``LO..HI``            numeric minimum/maximum, either side may be empty (``0..``)
* ``len:LO..HI``        string minLength/maxLength
* ``fmt:NAME``          named PVE format (``pve-node``, ``pve-vmid-list`` ...), see
                        :mod:`pvesim.spec.formats`
* ``pstr:NAME``         property string (schema ``format`` is an object), see
                        ``PROPERTY_STRINGS``
* ``req:OTHER``         this parameter requires parameter OTHER
* ``=VALUE``            documented default (``ctx.get`` returns it; never injected into params)
* ``re:PATTERN``        anchored regular expression, the rest of the string

A parameter name ending in ``[n]`` (``net[n]``) stands for the numbered family ``net0``, ``net1``...

The validator reproduces PVE::JSONSchema's messages verbatim, because clients (and the portal)
show them to users: see NOTES.md section 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvesim.spec.formats import check_format

MSG_UNKNOWN = (
    "property is not defined in schema and the schema does not allow additional properties"
)
MSG_MISSING = "property is missing and it is not optional"
MSG_REGEX = "value does not match the regex pattern"
TYPE_NAMES = {"str": "string", "int": "integer", "num": "number", "bool": "boolean"}
TYPE_NAMES["array"] = "array"


class ParamError(Exception):
    """Parameter verification failed; ``errors`` maps parameter name to PVE's message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("Parameter verification failed.")
        self.errors = dict(errors)


@dataclass(frozen=True, slots=True)
class Param:
    """One declared parameter, parsed from its compact spec string."""

    name: str
    type: str  # string | integer | number | boolean | array
    optional: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: str | None = None
    property_string: str | None = None
    pattern: str | None = None
    requires: str | None = None
    default: str | None = None
    numbered: bool = False  # name was declared as ``key[n]``

    @property
    def key(self) -> str:
        """The name without the ``[n]`` suffix (the family prefix for numbered keys)."""
        return self.name[:-3] if self.numbered else self.name


def parse_param(name: str, spec: str) -> Param:
    """Parse one compact spec string; raises ValueError on malformed declarations."""
    text = spec.strip()
    pattern = None
    if " re:" in f" {text}":
        head, _, pattern = f" {text}".partition(" re:")
        text = head.strip()
    tokens = text.split()
    if not tokens:
        raise ValueError(f"{name}: empty spec")
    kind = tokens[0]
    optional = kind.startswith("?")
    kind = kind.lstrip("?")
    values: dict[str, Any] = {}
    if kind.startswith("enum:"):
        values["enum"] = tuple(kind[5:].split("|"))
        kind = "str"
    if kind not in TYPE_NAMES:
        raise ValueError(f"{name}: unknown type {kind!r}")
    for token in tokens[1:]:
        if token.startswith("enum:"):
            values["enum"] = tuple(token[5:].split("|"))
        elif token.startswith("len:"):
            lo, _, hi = token[4:].partition("..")
            values["min_length"] = int(lo) if lo else None
            values["max_length"] = int(hi) if hi else None
        elif token.startswith("fmt:"):
            values["format"] = token[4:]
        elif token.startswith("pstr:"):
            values["property_string"] = token[5:]
        elif token.startswith("req:"):
            values["requires"] = token[4:]
        elif token.startswith("="):
            values["default"] = token[1:]
        elif ".." in token:
            lo, _, hi = token.partition("..")
            values["minimum"] = float(lo) if lo else None
            values["maximum"] = float(hi) if hi else None
        else:
            raise ValueError(f"{name}: unknown token {token!r}")
    numbered = name.endswith("[n]")
    return Param(
        name=name,
        type=TYPE_NAMES[kind],
        optional=optional,
        pattern=pattern,
        numbered=numbered,
        **values,
    )


@dataclass(slots=True)
class Method:
    """A declared API method: HTTP method, PVE path template and its parameters.

    ``world``: callable without authentication; ``allowtoken``: False for the ticket-only
    methods (POST /access/ticket, PUT /access/password...).
    """

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    world: bool = False
    allowtoken: bool = True
    parsed: dict[str, Param] = field(init=False, repr=False)
    numbered: tuple[Param, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.parsed = {name: parse_param(name, spec) for name, spec in self.params.items()}
        self.numbered = tuple(p for p in self.parsed.values() if p.numbered)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def param_for(self, name: str) -> Param | None:
        """The declaration covering ``name`` (direct, or through a ``key[n]`` family)."""
        param = self.parsed.get(name)
        if param is not None:
            return param
        for family in self.numbered:
            prefix = family.key
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                return family
        return None

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Check and type ``raw`` (strings from a form/query or JSON values).

        Returns the typed parameters actually given; raises :class:`ParamError` with every
        problem found, as PVE reports all of them at once.
        """
        errors: dict[str, str] = {}
        typed: dict[str, Any] = {}
        for name, value in raw.items():
            param = self.param_for(name)
            if param is None:
                errors[name] = MSG_UNKNOWN
                continue
            try:
                typed[name] = check_value(param, value)
            except ValueError as exc:
                errors[name] = str(exc)
        for param in self.parsed.values():
            if not param.optional and not param.numbered and param.name not in raw:
                errors.setdefault(param.name, MSG_MISSING)
            if param.requires and param.name in raw and param.requires not in raw:
                errors.setdefault(
                    param.requires, f"missing property - '{param.name}' requires this property"
                )
        if errors:
            raise ParamError(errors)
        return typed


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_value(param: Param, value: Any) -> Any:
    """Type and constrain one value; raise ValueError with PVE's wording."""
    kind = param.type
    if kind == "array":
        items = value if isinstance(value, list) else [value]
        return [_as_text(item) for item in items]
    if isinstance(value, list | dict):
        raise ValueError(f"type check ('{kind}') failed - got {type(value).__name__.upper()}")
    if kind == "boolean":
        return _check_bool(value)
    if kind == "integer":
        number: float = _check_integer(value)
        _check_range(param, number)
        return number
    if kind == "number":
        number = _check_number(value)
        _check_range(param, number)
        return number
    text = _as_text(value)
    if param.enum is not None and text not in param.enum:
        raise ValueError(
            f"value '{text}' does not have a value in the enumeration '{', '.join(param.enum)}'"
        )
    if param.max_length is not None and len(text) > param.max_length:
        raise ValueError(f"value may only be {param.max_length} characters long")
    if param.min_length is not None and len(text) < param.min_length:
        raise ValueError(f"value must be at least {param.min_length} characters long")
    if param.pattern is not None and not _compiled(param.pattern).fullmatch(text):
        raise ValueError(MSG_REGEX)
    if param.format is not None:
        check_format(param.format, text)
    if param.property_string is not None:
        parse_property_string(param.property_string, text)
    return text


def _check_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value)
    # PVE's form parser only knows 0/1 (and on/off/yes/no in property strings, not here).
    if text in ("1", "0"):
        return text == "1"
    raise ValueError(f"type check ('boolean') failed - got '{text}'")


def _check_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"type check ('integer') failed - got '{_as_text(value)}'")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value)
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    raise ValueError(f"type check ('integer') failed - got '{text}'")


def _check_number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return float(text)
    raise ValueError(f"type check ('number') failed - got '{text}'")


def _check_range(param: Param, number: float) -> None:
    if param.minimum is not None and number < param.minimum:
        raise ValueError(f"value must have a minimum value of {_num(param.minimum)}")
    if param.maximum is not None and number > param.maximum:
        raise ValueError(f"value must have a maximum value of {_num(param.maximum)}")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        # Schema patterns are Perl: ``(?^:...)`` / ``(?^i:...)`` reset flags; Python's
        # scoped groups ``(?:...)`` / ``(?i:...)`` mean the same for these patterns.
        compiled = _PATTERNS[pattern] = re.compile(pattern.replace("(?^", "(?"))
    return compiled


# ---- property strings ----------------------------------------------------------------------

PROPERTY_STRINGS: dict[str, dict[str, str]] = {}
"""Property-string declarations: name -> {key: spec}. A key spelled ``*key`` is the default
key (the value may be given without ``key=``), e.g. ``{"*model": "enum:e1000|virtio", ...}``."""


def register_property_string(name: str, keys: dict[str, str]) -> None:
    """Declare a property string used by ``pstr:NAME`` parameters (SIM-ESTATE's domain)."""
    PROPERTY_STRINGS[name] = keys


_PARSED_PSTR: dict[str, tuple[dict[str, Param], str | None]] = {}


def _property_string_params(name: str) -> tuple[dict[str, Param], str | None]:
    cached = _PARSED_PSTR.get(name)
    if cached is None:
        declared = PROPERTY_STRINGS.get(name, {})
        default_key = next((k[1:] for k in declared if k.startswith("*")), None)
        params = {k.lstrip("*"): parse_param(k.lstrip("*"), spec) for k, spec in declared.items()}
        cached = _PARSED_PSTR[name] = (params, default_key)
    return cached


def parse_property_string(name: str, value: str) -> dict[str, Any]:
    """Parse ``k=v,k=v`` against a registered declaration; unregistered names parse loosely."""
    params, default_key = _property_string_params(name)
    result: dict[str, Any] = {}
    for part in value.split(","):
        if not part:
            continue
        key, sep, item = part.partition("=")
        if not sep:
            if default_key is None:
                if params:
                    raise ValueError(
                        "invalid format - value without key, but schema "
                        "does not define a default key"
                    )
                result[part] = ""
                continue
            key, item = default_key, part
        if key in result:
            raise ValueError(
                f"invalid format - duplicate key in comma-separated list property: {key}"
            )
        param = params.get(key)
        if params and param is None:
            raise ValueError(f"invalid format - property '{key}' is not defined in schema")
        if param is not None:
            try:
                result[key] = check_value(param, item)
            except ValueError as exc:
                raise ValueError(f"invalid format - {key}: {exc}") from None
        else:
            result[key] = item
    if params:
        for key, param in params.items():
            if not param.optional and key not in result:
                raise ValueError(f"invalid format - {key}: {MSG_MISSING}")
    return result
