"""Who may set which guest tags: ``PVE::GuestHelpers::assert_tag_permissions``.

Every tag a change adds or removes is checked on its own. Sys.Modify on ``/`` may change
any tag. Everybody else (VM.Config.Options is checked with the other config keys) may
never touch a registered (privileged) tag, and may add or remove others as the datacenter
``user-tag-access`` allows: ``free`` any tag; ``existing`` tags already on a guest they can
see (VM.Audit) or in the allow list; ``list`` only the allow list; ``none`` nothing.

The datacenter options endpoint is not simulated; the policy is set like an admin would in
the GUI, through the control API::

    POST /_sim/datacenter/tags {user_allow, user_allow_list, registered_tags}
"""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.cluster import Cluster
from pvesim.control import ControlError, control_action
from pvesim.model.clusterconf import USER_ALLOW, TagPolicy
from pvesim.model.config import normalize_tags, split_list


def assert_tag_permissions(ctx: Context, old: str | None, new: str | None) -> None:
    """Raise PVE's 403 for the first tag in the change the caller may not add or remove."""
    if ctx.can("/", ["Sys.Modify"]):
        return
    before, after = set(split_list(old or "")), set(split_list(new or ""))
    policy = ctx.cluster.estate.tag_policy
    allowed: set[str] | None = None
    for tag in sorted(before ^ after):
        refused = tag in policy.registered
        if not refused and policy.user_allow != "free":
            allowed = _allowed_tags(ctx, policy) if allowed is None else allowed
            refused = tag not in allowed
        if refused:
            message = f"Permission check failed (/, Sys.Modify for modifying tag '{tag}')"
            raise ApiError(403, message)


def _allowed_tags(ctx: Context, policy: TagPolicy) -> set[str]:
    """``get_allowed_tags`` for a caller without Sys.Modify."""
    allowed: set[str] = set()
    if policy.user_allow != "none":
        allowed.update(policy.user_allow_list)
    if policy.user_allow in ("free", "existing"):
        for guest in ctx.cluster.estate.guests.values():
            tags = guest.config.get("tags")
            if tags and ctx.can(f"/vms/{guest.vmid}", ["VM.Audit"]):
                allowed.update(split_list(tags))
    return allowed - set(policy.registered)


@control_action("datacenter/tags")
def set_tag_policy(cluster: Cluster, params: dict[str, Any]) -> dict[str, Any]:
    """What an admin sets under Datacenter -> Options -> User Tag Access / Registered Tags."""
    user_allow = str(params.get("user_allow", "free"))
    if user_allow not in USER_ALLOW:
        raise ControlError(f"user_allow must be one of {', '.join(USER_ALLOW)}")
    lists = {}
    for key in ("user_allow_list", "registered_tags"):
        value = params.get(key, [])
        text = ";".join(value) if isinstance(value, list) else str(value)
        try:
            lists[key] = split_list(normalize_tags(text))
        except ValueError as exc:
            raise ControlError(str(exc)) from None
    cluster.estate.tag_policy = TagPolicy(
        user_allow=user_allow,
        user_allow_list=lists["user_allow_list"],
        registered=lists["registered_tags"],
    )
    return {"user_allow": user_allow, **lists}
