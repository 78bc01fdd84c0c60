"""Whether the manifest lets a principal use a key, by a role or by an access policy.

Several services need the same thing of a key (get, wrapKey, unwrapKey) and accept either form,
so their rules ask this one question.
"""

from __future__ import annotations

import re

from reconciler.core.roles import KEY_USE_ROLES, permits_key_use
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.model import Principal, Region, Source

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def can_use_key(region: Region, vault: str, key: str, principal: Principal) -> bool:
    by_role = any(a.vault == vault and a.key in (None, key) and a.principal == principal
                  and a.role.guid in KEY_USE_ROLES for a in region.role_assignments)
    by_policy = any(p.vault == vault and p.principal == principal and permits_key_use(p.key_permissions)
                    for p in region.access_policies)
    return by_role or by_policy


def environment_reference(context: ResolveContext, source: Source, field: str, given: object, what: str) -> str | None:
    """The variable NAME of `{env: NAME}`, or None after reporting why `given` is not one."""
    name = given.get("env") if isinstance(given, dict) and set(given) == {"env"} else None
    if not isinstance(name, str) or not ENV_NAME.match(name):
        context.problem(source, field, f"expected {field}: {{env: NAME}}, NAME being an environment variable "
                        f"(letters, digits, underscores) that holds {what}", "E-SCHEMA")
        return None
    return name
