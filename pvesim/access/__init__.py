"""Access control: users, groups, tokens, tickets, roles, ACLs, pools and their evaluation."""

from pvesim.access.evaluate import Evaluator
from pvesim.access.roles import BUILTIN_ROLES
from pvesim.access.store import AccessStore, AclEntry, Group, Identity, Token, User

__all__ = [
    "BUILTIN_ROLES",
    "AccessStore",
    "AclEntry",
    "Evaluator",
    "Group",
    "Identity",
    "Token",
    "User",
]
