"""Deterministic identifiers, so two runs against fresh sandboxes see the same world."""

from __future__ import annotations

import hashlib
import uuid

NAMESPACE = uuid.UUID("6f1c3c8e-5b1e-4f5a-9c43-2d0f6f3e9a10")


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def stable_aws_account(*parts: str) -> str:
    # AWS account ids are 12 digits; a key policy names them, so a uuid would not do.
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return str(int(digest, 16) % 10**12).zfill(12)


DEFAULT_TENANT_ID = stable_uuid("tenant")
DEFAULT_ORG_ID = stable_uuid("astra-organization")
# Who the sandbox says made a change (createdBy/updatedBy on role assignments).
CALLER_OBJECT_ID = stable_uuid("caller")
