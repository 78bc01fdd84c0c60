"""AWS KMS keys' part of `cmkctl export`, written as the manifest declares them.

Read only from what the inventory listed, in the kind's own shape, so that what export writes is what
the next plan compares: an exported key plans as no change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core import kms_policy

# ARN -> the manifest's principals for it (a plug-in's role in its provider account, say)
NamedArns = Mapping[str, list[dict[str, str]]]


def kms_keys(keys: Sequence[Mapping[str, Any]], account_id: str, named: NamedArns,
             skipped: list[str]) -> list[dict[str, Any]]:
    """The KMS keys as the manifest declares them; `named` says which ARNs the plug-ins name otherwise."""
    return [_kms_key(key, account_id, named, skipped) for key in sorted(keys, key=lambda k: k["alias"])]


def _kms_key(key: Mapping[str, Any], account_id: str, named: NamedArns, skipped: list[str]) -> dict[str, Any]:
    statements = _exportable(key["alias"], kms_policy.parse(key["policyDocument"])["Statement"], skipped)
    external = next((s for s in statements if s.get("Sid") == kms_policy.EXTERNAL_SID), None)
    allow = _allowed(external, named)
    entry: dict[str, Any] = {"alias": key["alias"], "description": key.get("description") or "",
                             "rotation": bool(key["enableKeyRotation"])}
    owners = [kms_policy.plain(s["Sid"], kms_policy.canonical(s)) for s in statements
              if s.get("Sid") and s["Sid"] not in kms_policy.RESERVED_SIDS and not _default_root(s, account_id)]
    policy: dict[str, Any] = {}
    if allow:
        policy["allow"] = allow
    if owners:
        policy["statements"] = owners
    if policy:
        entry["policy"] = policy
    return entry


def _exportable(alias: str, statements: Sequence[Mapping[str, Any]], skipped: list[str]) -> list[Mapping[str, Any]]:
    """The statements a manifest can declare; the others stay in the key's policy, as the plan keeps them."""
    kept = []
    for statement in statements:
        why = kms_policy.unexportable(statement) if statement.get("Sid") else None
        if why is None:
            kept.append(statement)
        else:
            skipped.append(f"{alias}: the key policy statement {statement.get('Sid')!r} ({why}); it stays in the "
                           "key's policy, which cmkctl keeps")
    return kept


def _default_root(statement: Mapping[str, Any], account_id: str) -> bool:
    root = kms_policy.required_statements(account_id, [])[0]
    return statement.get("Sid") == kms_policy.ROOT_SID and kms_policy.canonical(statement) == kms_policy.canonical(root)


def _allowed(external: Mapping[str, Any] | None, named: NamedArns) -> list[dict[str, str]]:
    principals = (external or {}).get("Principal", {}).get("AWS", [])
    found: list[dict[str, str]] = []
    for arn in [principals] if isinstance(principals, str) else principals:
        found += [n for n in named.get(str(arn)) or [{"aws": str(arn)}] if n not in found]
    return found
