"""The one door to object permissions (built on django-guardian).

Every query for objects a user may see or act on goes through ``restrict``; every
page or API that shows one object uses ``get_object_or_404_for``. Invariants:

- An action is a model permission codename prefix: ``"view"`` on a ``Team`` means
  ``accounts.view_team``; custom actions (``"approve"``) need ``Meta.permissions``.
- A user holds an action on an object when they are an active superuser, hold the
  *model-wide* permission (through a role group or directly: role grants apply to
  every object of the model, deliberately), or hold it on that very object through
  guardian, directly or through one of their groups.
- Filtering happens in SQL: ``restrict`` adds ``pk IN (subquery)`` clauses over
  guardian's generic permission tables and never loads ids into Python.
- Objects a user cannot view answer 404 (they are invisible); objects they can view
  but not act on answer 403.
- Apps may widen *viewing* a model with a visibility rule (``register_visibility``): a
  function of the user returning either a queryset of the model's primary keys (one
  column, e.g. ``Ownership.objects.filter(...).values("vm_id")``) or a ``Q`` over the
  model, written as joins or subqueries (never lists of ids). ``restrict``, ``can``
  and ``get_object_or_404_for`` OR every registered rule with the grants above. Rules
  let an app that depends on another scope the other's objects (ownership scopes
  inventory's VMs) without the lower app importing the higher one.
- Key querysets (guardian's grants and key rules) become a single
  ``pk IN (... UNION ALL ...)``: PostgreSQL runs that as one semi-join driven by the
  few keys, where an OR of several ``IN`` subqueries makes it test every row of the
  table (a full scan of 100,000 VMs for each list an end user opens). Prefer key rules.

Only guardian's generic ``UserObjectPermission``/``GroupObjectPermission`` tables are
used; direct-foreign-key permission models are not supported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

M = TypeVar("M", bound=models.Model)

# A rule returns a queryset of primary keys (preferred, see above) or a Q over the model.
VisibilityRule = Callable[[Any], "models.Q | models.QuerySet"]

__all__ = [
    "VisibilityRule",
    "can",
    "get_object_or_404_for",
    "grant",
    "permission_name",
    "register_visibility",
    "restrict",
    "revoke",
    "unregister_visibility",
]

# Concrete model -> the rules widening who may view its objects, in registration order.
_visibility: dict[type[models.Model], list[VisibilityRule]] = {}


def register_visibility(model: type[models.Model], rule: VisibilityRule) -> None:
    """Let ``rule(user)`` widen who may view ``model`` (idempotent; for ``AppConfig.ready``).

    ``rule`` receives an active, authenticated user without the model-wide view right and
    returns a ``Q`` over ``model`` that SQL evaluates (a join or a ``pk__in`` subquery).
    """
    rules = _visibility.setdefault(model._meta.concrete_model, [])
    if rule not in rules:
        rules.append(rule)


def unregister_visibility(model: type[models.Model], rule: VisibilityRule) -> None:
    """Withdraw a rule given to ``register_visibility`` (idempotent)."""
    rules = _visibility.get(model._meta.concrete_model, [])
    if rule in rules:
        rules.remove(rule)


def _visibility_rules(
    model: type[models.Model], user: Any
) -> tuple[list[models.QuerySet], models.Q | None]:
    """The registered rules for ``model``: their key querysets, and their ``Q``s ORed."""
    keys: list[models.QuerySet] = []
    conditions: models.Q | None = None
    for rule in _visibility.get(model._meta.concrete_model, ()):
        result = rule(user)
        if isinstance(result, models.QuerySet):
            keys.append(result)
        else:
            conditions = result if conditions is None else conditions | result
    return keys, conditions


def _keys_in(keys: list[models.QuerySet]) -> models.Q:
    """``pk IN (k1 UNION ALL k2 ...)``: one semi-join, however many sources of keys."""
    # Members of a compound query may not be ordered (SQLite refuses; it is noise anyway).
    first, *rest = (queryset.order_by() for queryset in keys)
    return models.Q(pk__in=first.union(*rest, all=True) if rest else first)


def _visibility_q(model: type[models.Model], user: Any) -> models.Q | None:
    """Every registered rule for ``model`` as one condition, or None when there are none."""
    keys, conditions = _visibility_rules(model, user)
    if keys:
        conditions = _keys_in(keys) if conditions is None else _keys_in(keys) | conditions
    return conditions


def permission_name(model: type[models.Model], action: str) -> str:
    """``"app_label.<action>_<model>"``, the model-wide permission behind ``action``."""
    return f"{model._meta.app_label}.{_codename(model, action)}"


def _codename(model: type[models.Model], action: str) -> str:
    return f"{action}_{model._meta.model_name}"


def _is_active_user(user: Any) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def _object_pk_as(model: type[models.Model], expression: str) -> Any:
    """Guardian stores object ids as text; cast them to the model's key type in SQL.

    Casting the subquery's column (not the outer key) keeps the outer table's primary
    key index usable.
    """
    pk = model._meta.pk
    if isinstance(pk, models.ForeignKey):  # multi-table inheritance: the parent key
        pk = pk.target_field
    if isinstance(pk, models.CharField):
        return models.F(expression)
    if isinstance(pk, models.UUIDField):
        return Cast(expression, models.UUIDField())
    if isinstance(pk, models.IntegerField):  # AutoField and BigAutoField included
        return Cast(expression, models.BigIntegerField())
    raise TypeError(f"restrict() does not support primary keys of type {type(pk).__name__}")


def restrict(queryset: models.QuerySet[M], user: Any, action: str = "view") -> models.QuerySet[M]:
    """``queryset`` narrowed to the objects ``user`` may ``action``, as one SQL query."""
    if not _is_active_user(user):
        return queryset.none()
    model = queryset.model
    if user.is_superuser or user.has_perm(permission_name(model, action)):
        return queryset
    content_type = ContentType.objects.get_for_model(model)
    codename = _codename(model, action)
    direct = (
        UserObjectPermission.objects.filter(
            user=user, content_type=content_type, permission__codename=codename
        )
        .annotate(target_pk=_object_pk_as(model, "object_pk"))
        .values("target_pk")
    )
    via_group = (
        GroupObjectPermission.objects.filter(
            group__user=user, content_type=content_type, permission__codename=codename
        )
        .annotate(target_pk=_object_pk_as(model, "object_pk"))
        .values("target_pk")
    )
    keys: list[models.QuerySet] = [direct, via_group]
    conditions = None
    if action == "view":
        rule_keys, conditions = _visibility_rules(model, user)
        keys.extend(rule_keys)
    allowed = _keys_in(keys)
    if conditions is not None:
        allowed |= conditions
    return queryset.filter(allowed)


def can(user: Any, action: str, obj: models.Model) -> bool:
    """Whether ``user`` may ``action`` the object ``obj``."""
    if not _is_active_user(user):
        return False
    name = permission_name(type(obj), action)
    # Model-wide rights (role groups) first; guardian's backend answers the object case.
    if user.is_superuser or user.has_perm(name) or user.has_perm(name, obj):
        return True
    if action != "view" or (rules := _visibility_q(type(obj), user)) is None:
        return False
    return type(obj)._default_manager.filter(rules, pk=obj.pk).exists()


def get_object_or_404_for(
    user: Any, queryset: models.QuerySet[M], action: str = "view", **lookup: Any
) -> M:
    """The object matching ``lookup`` if ``user`` may ``action`` it.

    Raises ``Http404`` when the user cannot even view it (it is invisible to them) and
    ``PermissionDenied`` (403) when they can view it but not perform ``action``.
    """
    obj = get_object_or_404(restrict(queryset, user, "view"), **lookup)
    if action != "view" and not can(user, action, obj):
        raise PermissionDenied
    return obj


def grant(user_or_group: Any, action: str, obj: models.Model) -> None:
    """Let a user or group ``action`` the single object ``obj`` (idempotent)."""
    _reject_anonymous(user_or_group)
    assign_perm(_codename(type(obj), action), user_or_group, obj)
    _forget_cached_permissions(user_or_group)


def revoke(user_or_group: Any, action: str, obj: models.Model) -> None:
    """Withdraw a grant made by ``grant`` (idempotent; model-wide role rights stay)."""
    _reject_anonymous(user_or_group)
    remove_perm(_codename(type(obj), action), user_or_group, obj)
    _forget_cached_permissions(user_or_group)


def _reject_anonymous(user_or_group: Any) -> None:
    if isinstance(user_or_group, AnonymousUser):
        raise ValueError("Permissions cannot be granted to or revoked from anonymous users.")


def _forget_cached_permissions(user_or_group: Any) -> None:
    # guardian's backend caches object permissions on the user instance; a later
    # can() on the same instance must see the change.
    if not isinstance(user_or_group, Group):
        for attribute in list(vars(user_or_group)):
            if attribute.startswith("_guardian") or attribute.endswith("_perm_cache"):
                delattr(user_or_group, attribute)
