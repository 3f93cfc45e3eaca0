"""The mandatory dry run before a policy is saved: a signed token binding a preview to
exactly the document that was previewed.

The editor and the API first run ``policy_dry_run`` on a document and hand back a token;
a save is accepted only with a token for the very same document (canonical JSON hash)
based on the very same stored version of the policy. So nobody saves a change whose
effect they have not seen, and a preview made before someone else saved is stale.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core import signing

_SALT = "policy.preview"
# A preview older than this is refused: the fleet may have changed since.
MAX_AGE_SECONDS = 60 * 60


def document_digest(document: dict[str, Any]) -> str:
    """A stable hash of a policy document (key order and whitespace do not matter)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def preview_token(
    *, document: dict[str, Any], policy_id: int | None, base_version: int | str
) -> str:
    """A token saying "this document was previewed against this version of this policy".

    ``base_version`` is the stored version (0 for a new policy), or a fingerprint of
    several versions (an import).
    """
    return signing.dumps(
        {"doc": document_digest(document), "policy": policy_id, "base": base_version},
        salt=_SALT,
        compress=True,
    )


def preview_matches(
    token: str, *, document: dict[str, Any], policy_id: int | None, base_version: int | str
) -> bool:
    """Whether ``token`` previewed exactly this document on this version, recently."""
    if not token:
        return False
    try:
        claims = signing.loads(token, salt=_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return False
    return claims == {
        "doc": document_digest(document),
        "policy": policy_id,
        "base": base_version,
    }
