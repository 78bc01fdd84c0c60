"""Each format is defined once: the published JSON Schema (schemas/) is the file the package ships, and
the code that writes and reads the format is held equal to it here."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler import manifest, plan
from reconciler.core.secrets import Secret
from reconciler.engine.export import MODELINE
from reconciler.manifest.loader import API_VERSION, KIND, SCHEMA_NAME
from reconciler.plan import document as plandoc
from reconciler.plan.model import (
    FORMAT_HISTORY,
    FORMAT_VERSION,
    Action,
    AttributeChange,
    ManifestFile,
    Notice,
    Plan,
    PlanContext,
    Step,
    Unknown,
)
from tests.conftest import ROOT

PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.v1.json").read_text("utf-8"))
MANIFEST_SCHEMA = json.loads((ROOT / "schemas" / "manifest.v1.json").read_text("utf-8"))


@pytest.mark.parametrize(("package", "name"), [(manifest, "manifest.v1.json"), (plan, "plan.v1.json")])
def test_the_package_ships_the_published_schema(package: Any, name: str) -> None:
    assert resources.files(package).joinpath(name).read_bytes() == (ROOT / "schemas" / name).read_bytes()


def test_the_plan_schema_names_the_format_the_code_writes_and_every_earlier_one() -> None:
    versions = [version for version, _ in FORMAT_HISTORY]
    ordered = sorted(set(versions), key=lambda version: tuple(map(int, version.split("."))))
    assert versions == ordered and versions[-1] == FORMAT_VERSION
    assert PLAN_SCHEMA["properties"]["format_version"]["const"] == FORMAT_VERSION
    assert PLAN_SCHEMA["title"] == f"cmkctl saved plan, format {FORMAT_VERSION}"
    described = PLAN_SCHEMA["properties"]["format_version"]["description"]
    for version, what in FORMAT_HISTORY:
        assert f" {version}: {what}." in described


def _plan(*, everything: bool) -> Plan:
    """A plan with every optional part of the document (targets, a forbidden step's rules) or none of them."""
    step = Step(address="azure_key.eastus.v/k", kind="azure_key", region="eastus",
                action=Action.FORBIDDEN if everything else Action.CREATE, identity={"name": "k"},
                attributes={"keySize": 3072, "id": Unknown("azure_key.eastus.v/k", "id")},
                changes=(AttributeChange("keySize", 2048, 3072),), depends_on=("azure_vault.eastus.v",),
                reason="why", live={"keySize": 2048}, fingerprint="absent", source="cmk/a.yaml:3",
                rules=("R-IMMUTABLE",) if everything else ())
    return Plan(key_set="k", steps=(step,), notices=(Notice("W-X", "eastus", "note"),), manifest_digest="d",
                manifest_files=(ManifestFile("cmk/a.yaml", "0" * 64),),
                targets=("azure_key.eastus",) if everything else (),
                context=PlanContext(sandbox=None, accounts={"azure_subscription_id": "s"}))


def _properties(schema: dict[str, Any]) -> set[str]:
    return set(schema["properties"])


def test_the_plan_document_has_exactly_the_fields_the_schema_defines() -> None:
    full = json.loads(plandoc.dumps(_plan(everything=True), signing_key=Secret("a-signing-key")))
    bare = plandoc.to_document(_plan(everything=False))
    defs = PLAN_SCHEMA["$defs"]
    assert set(full) == _properties(PLAN_SCHEMA) and set(bare) == set(PLAN_SCHEMA["required"])
    assert set(full["steps"][0]) == _properties(defs["step"])
    assert set(bare["steps"][0]) == set(defs["step"]["required"])
    assert set(full["notices"][0]) == _properties(defs["notice"]) == set(defs["notice"]["required"])
    files = PLAN_SCHEMA["properties"]["manifest"]["properties"]["files"]["items"]
    assert set(full["manifest"]["files"][0]) == _properties(files) == set(files["required"])
    assert set(full["context"]) == _properties(PLAN_SCHEMA["properties"]["context"])
    assert set(full["summary"]) == _properties(PLAN_SCHEMA["properties"]["summary"]) == {a.value for a in Action} | {
        "irreversible"}
    for written in (full, bare):
        assert list(Draft202012Validator(PLAN_SCHEMA).iter_errors(written)) == []
    assert (full["applicable"], bare["applicable"]) == (False, True)


def test_a_manifest_cmkctl_writes_names_the_version_the_schema_defines() -> None:
    assert MANIFEST_SCHEMA["$id"] == MODELINE.split("$schema=", 1)[1].strip()
    assert MANIFEST_SCHEMA["properties"]["apiVersion"]["const"] == API_VERSION
    assert MANIFEST_SCHEMA["properties"]["kind"]["const"] == KIND
    assert SCHEMA_NAME == "manifest.v1.json"
    assert MANIFEST_SCHEMA["$id"].endswith("/manifest.v1.json") and PLAN_SCHEMA["$id"].endswith("/plan.v1.json")
