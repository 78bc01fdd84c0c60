"""The manifest's JSON Schema, composed: the core's part (`manifest.core.json`: metadata, the clouds'
accounts, regions, vaults, keys, grants, KMS keys) and each plug-in's fragment, so that a new system
writes its registration block, its principal kinds and its `accounts:` block in its own package.

A fragment is a mapping of up to four entries:

- `accounts`: {NAME: schema} under `accounts:`;
- `registrations`: {CLOUD: {NAME: schema}}, the registration block NAME in a region of CLOUD;
- `principals`: {CLOUD: {NAME: schema}}, a principal kind (a grant's on Azure, a key policy's on AWS);
- `$defs`: definitions its schemas refer to (`#/$defs/NAME`).

The published schema, `schemas/manifest.v1.json`, is this composition over the plug-ins' table; a test
holds the two equal.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

# Where each cloud's registration blocks and principal kinds stand in the core's definitions.
_REGISTRATIONS = {"azure": "registration", "aws": "awsRegistration"}
_PRINCIPALS = {"azure": "principal", "aws": "kmsPrincipal"}
_ENTRIES = frozenset({"accounts", "registrations", "principals", "$defs"})


def core_schema() -> dict[str, Any]:
    text = resources.files("reconciler.manifest").joinpath("manifest.core.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def compose(fragments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The core schema with every fragment added; a name two of them (or one and the core) define is refused."""
    schema = core_schema()
    for fragment in fragments:
        _add(schema, fragment)
    return schema


def _add(schema: dict[str, Any], fragment: Mapping[str, Any]) -> None:
    if unknown := set(fragment) - _ENTRIES:
        raise ValueError(f"a schema fragment has entries the manifest does not compose: {sorted(unknown)}")
    definitions = schema["$defs"]
    _merge(schema["properties"]["accounts"]["properties"], fragment.get("accounts", {}), "accounts")
    for cloud, blocks in fragment.get("registrations", {}).items():
        _merge(definitions[_REGISTRATIONS[cloud]]["properties"], blocks, f"{cloud} registrations")
    for cloud, kinds in fragment.get("principals", {}).items():
        _merge(definitions[_PRINCIPALS[cloud]]["properties"], kinds, f"{cloud} principals")
    _merge(definitions, fragment.get("$defs", {}), "$defs")


def _merge(into: dict[str, Any], added: Mapping[str, Any], where: str) -> None:
    if taken := sorted(set(into) & set(added)):
        raise ValueError(f"{where}: {', '.join(taken)} defined twice")
    into.update(copy.deepcopy(dict(added)))
