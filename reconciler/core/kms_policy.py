"""AWS KMS key policies: the statements the Astra procedure requires, merged with the owner's.

Pure functions over JSON-shaped dicts; nothing here talks to AWS. Statements are matched by Sid:
a statement cmkctl declares replaces the live statement of the same Sid, every other live
statement is kept. Statements are compared in a canonical form (lists sorted and without
repeats, one value as a plain string, a missing Condition present as None), so AWS's
reformatting of a policy never shows as a change and a Condition added by hand does.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Statement = dict[str, Any]

POLICY_VERSION = "2012-10-17"
ROOT_SID = "Enable IAM User Permissions"
EXTERNAL_SID = "Allow an external account to use this KMS key"
ATTACHMENT_SID = "Allow attachment of persistent resources"
# Written by cmkctl from `policy.allow`, exactly as the procedure lists them: the owner may not.
RESERVED_SIDS = (EXTERNAL_SID, ATTACHMENT_SID)

EXTERNAL_ACTIONS = (
    "kms:EnableKey",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptTo",
    "kms:ReEncryptFrom",
    "kms:DescribeKey",
)
ATTACHMENT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")
GRANT_FOR_AWS_RESOURCE = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
# Whoever may do this can change the policy, so can always repair it.
MANAGE_ACTION = "kms:PutKeyPolicy"

# The Sid is not among them: it names the statement (the plan attribute `policy[SID]`).
STATEMENT_KEYS = ("Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource",
                  "Condition")
ATTRIBUTE_PREFIX = "policy["


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


# The principals a key policy can name, as IAM's "AWS JSON policy elements: Principal" lists them:
# an account (its ID, or its root's ARN), IAM users and roles (with their paths), role sessions and
# federated user sessions, AWS services, identity providers, and everyone ("*"). KMS refuses a
# policy naming anything else (MalformedPolicyDocumentException: "Policy contains a statement with
# one or more invalid principals"; AWS re:Post, kms-policy-error-invalid-principals), and a
# wildcard may stand only for the whole principal, never for part of an ARN.
_PARTITION = r"arn:aws(?:-cn|-us-gov)?"
_IAM_NAME = r"[A-Za-z0-9+=,.@_-]+"
PRINCIPAL_FORMS: dict[str, tuple[re.Pattern[str], str]] = {
    "AWS": (re.compile(rf"^(?:\*|[0-9]{{12}}|{_PARTITION}:iam::[0-9]{{12}}:(?:root|(?:user|role)(?:/{_IAM_NAME})+)"
                       rf"|{_PARTITION}:sts::[0-9]{{12}}:(?:assumed-role/{_IAM_NAME}/{_IAM_NAME}"
                       rf"|federated-user/{_IAM_NAME}))$"),
            "\"*\", an account ID, arn:aws:iam::ACCOUNT:root, an IAM user or role ARN (arn:aws:iam::ACCOUNT:role/"
            "NAME), or an assumed-role or federated-user session ARN (arn:aws:sts::ACCOUNT:...)"),
    "Service": (re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?$"),
                "a service principal such as logs.amazonaws.com"),
    "Federated": (re.compile(rf"^(?:{_PARTITION}:iam::[0-9]{{12}}:(?:saml-provider|oidc-provider)/[A-Za-z0-9+=,.@_/:-]+"
                             r"|[a-z0-9][a-z0-9.-]*\.[a-z]{2,})$"),
                  "an identity provider: a SAML or OIDC provider ARN, or a domain such as "
                  "cognito-identity.amazonaws.com"),
}


# The manifest's Sid (schemas/manifest.v1.json, kmsStatement.Sid): IAM's letters and digits, and
# the spaces a KMS key policy also allows.
SID = re.compile(r"^ *[A-Za-z0-9][A-Za-z0-9 ]*$")


def unexportable(statement: Mapping[str, Any]) -> str | None:
    """Why a live statement cannot be written into a manifest that validates; None when it can."""
    sid = statement.get("Sid")
    if not isinstance(sid, str) or not SID.match(sid) or len(sid) > 200:
        return "its Sid is not letters, digits and spaces"
    problems = malformed_principals(statement)
    return problems[0] if problems else None


def malformed_principals(statement: Mapping[str, Any]) -> list[str]:
    """What in a statement's Principal or NotPrincipal KMS would refuse, one sentence each."""
    found: list[str] = []
    for element in ("Principal", "NotPrincipal"):
        principal = statement.get(element)
        if principal is None or principal == "*":
            continue
        if not isinstance(principal, Mapping):
            found.append(f"{element} must be \"*\" or a mapping of AWS, Service or Federated to principals")
            continue
        for kind, values in principal.items():
            form = PRINCIPAL_FORMS.get(str(kind))
            if form is None:
                found.append(f"{element} has {kind!r}; a key policy names AWS, Service or Federated principals")
                continue
            pattern, expected = form
            found += [f"{element} {kind} {value!r} is not {expected}" for value in _list(values)
                      if not pattern.match(value)]
    return found


def principal_arn(value: str) -> str:
    """An account ID stands for its root; an ARN for itself."""
    return root_arn(value) if value.isdigit() else value


def attribute_name(sid: str) -> str:
    return f"{ATTRIBUTE_PREFIX}{sid}]"


def sid_of(attribute: str) -> str | None:
    if attribute.startswith(ATTRIBUTE_PREFIX) and attribute.endswith("]"):
        return attribute[len(ATTRIBUTE_PREFIX):-1]
    return None


def required_statements(account_id: str, external: Sequence[str]) -> list[Statement]:
    """What the procedure requires: the root statement, and for `external` principals the two others."""
    found = [{"Sid": ROOT_SID, "Effect": "Allow", "Principal": {"AWS": root_arn(account_id)}, "Action": "kms:*",
              "Resource": "*"}]
    if external:
        principals = {"AWS": sorted(set(external))}
        found.append({"Sid": EXTERNAL_SID, "Effect": "Allow", "Principal": principals,
                      "Action": list(EXTERNAL_ACTIONS), "Resource": "*"})
        found.append({"Sid": ATTACHMENT_SID, "Effect": "Allow", "Principal": principals,
                      "Action": list(ATTACHMENT_ACTIONS), "Resource": "*", "Condition": GRANT_FOR_AWS_RESOURCE})
    return found


def declared_statements(account_id: str, external: Sequence[str],
                        owner: Iterable[Mapping[str, Any]]) -> dict[str, Statement]:
    """Sid -> canonical statement: the required ones, then the owner's (which may replace the root one)."""
    found = {s["Sid"]: canonical(s) for s in required_statements(account_id, external)}
    for statement in owner:
        found[statement["Sid"]] = canonical(statement)
    return found


def canonical(statement: Mapping[str, Any]) -> Statement:
    # The plan compares declared keys only; an explicit None makes "no Condition" a declared fact.
    found = {key: _canonical_value(key, statement[key]) for key in STATEMENT_KEYS if key in statement}
    return {**found, "Condition": found.get("Condition")}


def _canonical_value(key: str, value: Any) -> Any:
    if value is None or key in ("Sid", "Effect"):
        return value
    if key == "Condition":
        return {op: {name: _strings(v) for name, v in sorted(body.items())} for op, body in sorted(value.items())}
    if key in ("Principal", "NotPrincipal"):
        return "*" if value == "*" else {kind: _strings(v) for kind, v in sorted(value.items())}
    return _strings(value)


def _strings(value: Any) -> str | list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    found = sorted({str(v).lower() if isinstance(v, bool) else str(v) for v in values})
    return found[0] if len(found) == 1 else found


def _list(value: Any) -> list[str]:
    found = _strings(value)
    return [found] if isinstance(found, str) else found


def plain(sid: str, statement: Mapping[str, Any]) -> Statement:
    """A canonical statement as a policy document holds it: its Sid first, absent keys left out."""
    return {"Sid": sid, **{key: value for key, value in statement.items() if value is not None and key != "Sid"}}


def parse(document: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if document is None:
        return {"Version": POLICY_VERSION, "Statement": []}
    policy = json.loads(document) if isinstance(document, str) else dict(document)
    statements = policy.get("Statement", [])
    policy["Statement"] = [statements] if isinstance(statements, dict) else list(statements)
    return policy


def by_sid(policy: Mapping[str, Any]) -> dict[str, Statement]:
    """Attribute name -> canonical statement, for every statement that has a Sid."""
    return {attribute_name(s["Sid"]): canonical(s) for s in parse(policy)["Statement"] if s.get("Sid")}


def merge(live: Mapping[str, Any] | None, wanted: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`live` with each statement of `wanted` (Sid -> statement) in place of the one of its Sid, or added."""
    policy = parse(live)
    pending = dict(wanted)
    statements = []
    for statement in policy["Statement"]:
        sid = statement.get("Sid")
        replacement = pending.pop(sid, None) if sid else None
        statements.append(plain(sid, replacement) if replacement is not None else statement)
    statements += [plain(sid, s) for sid, s in pending.items()]
    return {"Version": policy.get("Version", POLICY_VERSION), **({"Id": policy["Id"]} if "Id" in policy else {}),
            "Statement": statements}


def new_policy(wanted: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Id": "cmkctl", "Statement": [plain(sid, s) for sid, s in wanted.items()]}


def unconditioned_wildcards(statements: Iterable[Mapping[str, Any]]) -> list[str]:
    """Sids of statements naming any principal ("*") without a condition: AWS accepts them, nobody should."""
    return [str(s.get("Sid", "")) for s in statements
            if not s.get("Condition") and (_has_wildcard(s.get("Principal")) or _has_wildcard(s.get("NotPrincipal")))]


def _has_wildcard(principal: Any) -> bool:
    if principal is None:
        return False
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and any("*" in _list(v) for v in principal.values())


def can_manage(statements: Iterable[Mapping[str, Any]], principals: Sequence[str]) -> bool:
    """Whether one of `principals` (ARNs) may still change the key policy under `statements`.

    Conservative: only unconditioned statements count for an Allow, and any unconditioned Deny
    that covers the principal and kms:PutKeyPolicy locks it out.
    """
    statements = list(statements)
    for who in principals:
        allowed = any(_covers(s, who) for s in statements if s.get("Effect") == "Allow" and not s.get("Condition"))
        denied = any(_covers(s, who) for s in statements if s.get("Effect") == "Deny" and not s.get("Condition"))
        if allowed and not denied:
            return True
    return False


def _covers(statement: Mapping[str, Any], who: str) -> bool:
    return _names_principal(statement, who) and _names_action(statement, MANAGE_ACTION)


def _names_principal(statement: Mapping[str, Any], who: str) -> bool:
    if statement.get("NotPrincipal") is not None:
        return not _principal_matches(statement["NotPrincipal"], who)
    return _principal_matches(statement.get("Principal"), who)


def _principal_matches(principal: Any, who: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    names = {principal_arn(p) for p in _list(principal.get("AWS", []))}
    return "*" in names or who in names


def _names_action(statement: Mapping[str, Any], action: str) -> bool:
    if statement.get("NotAction") is not None:
        return not any(fnmatch.fnmatch(action.lower(), a.lower()) for a in _list(statement["NotAction"]))
    return any(fnmatch.fnmatch(action.lower(), a.lower()) for a in _list(statement.get("Action", [])))
