"""How a registration names its key: a key declared in the region, by name or by its identifier.

Shared by every system, so that the versionless rule and the same-region rule read alike
everywhere. A key in another region is a rule violation, not a dangling reference: the vendors
refuse a key outside their consumer's region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.manifest.context import ResolveContext
from reconciler.manifest.model import Key, KeySet, Region, Source

KEY_IDENTIFIER = re.compile(
    r"^https://(?P<vault>[A-Za-z0-9-]+)\.vault\.azure\.net(:443)?/keys/(?P<key>[A-Za-z0-9-]+)"
    r"(/(?P<version>[^/]*))?/?$"
)


@dataclass(frozen=True)
class KeyReference:
    """A key as a registration wrote it: the name, and the identifier when one was written."""

    name: str
    identifier: str | None = None


def parse_key_reference(context: ResolveContext, source: Source, field: str, written: str,
                        consumer: str) -> KeyReference:
    match = KEY_IDENTIFIER.match(written)
    if written.startswith("https://") and match is None:
        context.problem(source, field, f"{written!r} is not a Key Vault key identifier "
                        "(https://VAULT.vault.azure.net/keys/NAME)", "E-REFERENCE")
    if match is None:
        return KeyReference(written)
    if match["version"]:
        context.problem(source, field, f"{written!r} names a key version: give {consumer} the versionless "
                        f"identifier https://{match['vault']}.vault.azure.net/keys/{match['key']} so that it "
                        "follows rotation (a versioned ID pins one version forever)", "R-VERSIONED-KEY-ID")
    return KeyReference(match["key"], written)


def find_key(context: ResolveContext, key_set: KeySet, region: Region, reference: KeyReference,
             source: Source, field: str, consumer: str) -> Key | None:
    """The declared key `reference` names in `region`; reports why when there is none."""
    key = region.key(reference.name)
    if key is not None:
        _check_vault(context, reference, key, source, field)
        return key
    elsewhere = next((r for r in key_set.regions if r.key(reference.name) is not None), None)
    if elsewhere is None:
        context.problem(source, field, f"no key {reference.name!r} is declared in region {region.name!r}",
                        "E-REFERENCE")
    else:
        context.problem(source, field, f"key {reference.name!r} is in region {elsewhere.name!r}; {consumer} needs "
                        f"the key in the region it encrypts ({region.name!r})", "R-SAME-REGION")
    return None


def _check_vault(context: ResolveContext, reference: KeyReference, key: Key, source: Source, field: str) -> None:
    match = KEY_IDENTIFIER.match(reference.identifier or "")
    if match is not None and match["vault"].lower() != key.vault.lower():
        context.problem(source, field, f"{reference.identifier!r} is in vault {match['vault']!r}, but key "
                        f"{key.name!r} is declared in vault {key.vault!r}", "E-REFERENCE")
