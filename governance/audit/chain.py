"""The hash chain: how an audit event is turned into bytes and hashed.

Pure functions over plain values, shared by the writer (``services.audit_record``) and
the checker (``audit_verify``), so both always agree on the canonical form.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def to_json_value(value: Any) -> Any:
    """``value`` as it will read back from a JSON column (dates become ISO strings, etc.).

    Hashing the read-back form, not the Python object, keeps the hash reproducible.
    """
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def canonical_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    sequence: int,
    created_at: datetime,
    actor_id: int | None,
    actor_repr: str,
    action: str,
    target_type: str,
    target_id: str,
    target_repr: str,
    before: Any,
    after: Any,
    request_id: str,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of the event's fields and its predecessor's hash.

    ``target_type`` is ``"app_label.model"`` (not a content type id) so the chain still
    verifies after a dump and restore into a database with other ids.
    """
    document = {
        "sequence": sequence,
        "created_at": canonical_timestamp(created_at),
        "actor_id": actor_id,
        "actor_repr": actor_repr,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "target_repr": target_repr,
        "before": before,
        "after": after,
        "request_id": request_id,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
