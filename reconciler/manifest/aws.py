"""The AWS side of a region: KMS keys with their aliases, rotation and key-policy wishes."""

from __future__ import annotations

from typing import Any

from reconciler.manifest.context import ResolveContext
from reconciler.manifest.model import KmsKey, Principal
from reconciler.manifest.yamlsource import JsonPath


def kms_keys(context: ResolveContext, region: str, path: JsonPath, raw: dict[str, Any]) -> tuple[KmsKey, ...]:
    found = tuple(_kms_key(context, region, (*path, "keys", i), k) for i, k in enumerate(raw.get("keys", [])))
    seen: set[str] = set()
    for key in found:
        if key.alias in seen:
            context.problem(key.source, "alias", f"alias {key.alias!r} is declared twice in region {region!r}",
                            "E-DUPLICATE")
        seen.add(key.alias)
    return found


def _kms_key(context: ResolveContext, region: str, path: JsonPath, raw: dict[str, Any]) -> KmsKey:
    policy = raw.get("policy", {})
    allow = tuple(Principal(*next(iter(p.items()))) for p in policy.get("allow", []))
    statements = tuple(policy.get("statements", []))
    source = context.source(path)
    _check_sids(context, context.source((*path, "policy")) if "policy" in raw else source, statements)
    return KmsKey(
        alias=raw["alias"],
        region=region,
        description=raw.get("description", ""),
        rotation=raw.get("rotation", True),
        allow=allow,
        statements=statements,
        source=source,
    )


def _check_sids(context: ResolveContext, source: Any, statements: tuple[dict[str, Any], ...]) -> None:
    # Statements are matched by Sid: two of one Sid would overwrite each other in the key policy.
    seen: set[str] = set()
    for statement in statements:
        if statement["Sid"] in seen:
            context.problem(source, "statements", f"two statements have Sid {statement['Sid']!r}; statements are "
                            "matched by Sid, so each needs its own", "E-DUPLICATE")
        seen.add(statement["Sid"])
