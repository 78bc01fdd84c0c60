"""An optional HMAC-SHA256 signature of a saved plan, for pipelines that want to know who made it.

The digest only catches accidents: anyone who edits a plan can recompute it. A signature can be
made only by a holder of the key, which lives in an environment variable of the jobs that plan
and apply (never in the plan, the output or a log). When apply holds the key, an unsigned or
wrongly signed plan is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from reconciler.core.errors import StalePlanError
from reconciler.core.secrets import Secret

SCHEME = "hmac-sha256:"
# Neither the digest nor the signature covers itself or the other.
UNCOVERED = frozenset({"digest", "signature"})


def canonical(document: Mapping[str, Any]) -> bytes:
    """The document's bytes the digest and the signature are made of: sorted keys, no spaces."""
    body = {k: v for k, v in document.items() if k not in UNCOVERED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(document: Mapping[str, Any], key: Secret) -> str:
    return SCHEME + hmac.new(key.reveal().encode("utf-8"), canonical(document), hashlib.sha256).hexdigest()


def check(document: Mapping[str, Any], key: Secret, where: str) -> None:
    found = document.get("signature")
    if found is None:
        raise StalePlanError(f"{where}: the plan is not signed, and a plan signing key is set: only a plan "
                             "signed with that key is applied; plan again with the key set")
    if not isinstance(found, str) or not hmac.compare_digest(found, signature(document, key)):
        raise StalePlanError(f"{where}: the plan's signature does not match the plan signing key: it was "
                             "signed with another key or altered after it was signed; nothing was changed")
