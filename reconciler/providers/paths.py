"""Path segments cmkctl puts into request URLs, encoded so that no value can change the request's path.

A name, from a manifest or from a cloud's answer, is one segment: `/`, `?`, `#`, `%` and every other
reserved character are percent-encoded (`quote(value, safe="")`), so a value can neither add a
segment, nor start a query or a fragment, nor smuggle an encoding of its own. `.` and `..` are
refused instead: dots are unreserved, so no encoding hides a dot-segment from a server that
removes them (RFC 3986, 5.2.4), and `..` would move the request to another resource.

The manifest's grammars (schemas/manifest.v1.json) refuse such values at validate; this is the
last line, for values that come from elsewhere (a cloud's answer) and for the grammars' gaps.
"""

from __future__ import annotations

from urllib.parse import quote

from reconciler.core.errors import ProviderError

DOT_SEGMENTS = frozenset({"", ".", ".."})


def segment(value: str, what: str, *, plane: str) -> str:
    """`value` as one path segment; refused when no encoding could keep it one."""
    if value in DOT_SEGMENTS:
        raise ProviderError(f"refusing {what} {value!r}: it cannot be one segment of a request's path", plane=plane)
    return quote(value, safe="")


def resource_id(value: str, what: str, *, plane: str) -> str:
    """An ARM resource ID (`/subscriptions/S/resourceGroups/RG/...`), each of its segments encoded.

    SDK operations that take a scope (role assignments) splice it into the URL as it is given.
    """
    if not value.startswith("/"):
        raise ProviderError(f"refusing {what} {value!r}: an ARM resource ID starts with /subscriptions/",
                            plane=plane)
    parts = value.rstrip("/").split("/")[1:]
    return "/" + "/".join(segment(part, what, plane=plane) for part in parts)
