"""What an install carries: a real run's dependencies only; the emulator's come with `cmkctl[sandbox]`."""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from reconciler import __version__
from tests.conftest import EXAMPLES, ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
EMULATOR = {"moto", "flask", "flask-cors", "trustme"}
# distribution -> the module the package imports it as
IMPORT_NAMES = {"PyYAML": "yaml", "azure-identity": "azure.identity", "azure-core": "azure.core",
                "azure-mgmt-core": "azure.mgmt.core", "azure-mgmt-keyvault": "azure.mgmt.keyvault",
                "azure-mgmt-authorization": "azure.mgmt.authorization", "azure-mgmt-cosmosdb": "azure.mgmt.cosmosdb",
                "azure-mgmt-msi": "azure.mgmt.msi", "azure-mgmt-mongocluster": "azure.mgmt.mongocluster",
                "azure-keyvault-keys": "azure.keyvault.keys", "azure-storage-blob": "azure.storage.blob"}
# Declared for their lower bound only: what the SDKs above run on.
UNDERLYING = {"azure-mgmt-core"}


def name_of(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert found, requirement
    return found.group(0)


def test_the_emulator_is_an_extra_and_the_tests_take_it() -> None:
    core = {name_of(r) for r in PROJECT["dependencies"]}
    extras = PROJECT["optional-dependencies"]
    assert not core & EMULATOR
    assert {name_of(r) for r in extras["sandbox"]} >= EMULATOR
    assert "cmkctl[sandbox]" in extras["test"]


def test_every_core_dependency_is_something_a_real_run_imports() -> None:
    package = ROOT / "reconciler"
    real = "\n".join(p.read_text("utf-8") for p in package.rglob("*.py") if "sandbox" not in p.relative_to(package).parts)
    for requirement in (r for r in PROJECT["dependencies"] if name_of(r) not in UNDERLYING):
        module = IMPORT_NAMES.get(name_of(requirement), name_of(requirement).replace("-", "_"))
        # An import statement, or the name the azure clients are loaded by (importlib, lazily).
        used = rf"^\s*(import|from) {re.escape(module)}\b|\"{re.escape(module)}[.:\"]"
        assert re.search(used, real, re.MULTILINE), f"{requirement} is declared but nothing a real run loads imports it"


def test_the_readme_try_it_installs_the_sandbox_extra_in_one_command() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("## Try it", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert "\n" not in block.strip()
    assert "pip install -q -c .ci/constraints.txt -e '.[sandbox]'" in block and "--sandbox" in block


# The standard text of the Apache License 2.0, as the Apache Software Foundation publishes it.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_license_pyproject_names_is_the_apache_2_text() -> None:
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    installed = importlib.metadata.metadata("cmkctl")
    assert installed["License-Expression"] == "Apache-2.0"
    assert installed.get_all("License-File") == ["LICENSE"]


def test_the_latest_release_in_the_changelog_is_the_package_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", changelog, re.MULTILINE)
    assert headings[0] == ("Unreleased", ""), "Keep a Changelog: an Unreleased section comes first"
    released, dated = headings[1]
    assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", dated), f"## [{released}]{dated}: a release is dated"
    assert released == PROJECT["version"] == __version__


# A plain install: the emulator's packages absent, as if pip had never brought them.
WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from reconciler.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize(("missing", "example", "named"), [
    ("trustme", "astra-serverless-azure.yaml", "trustme"),
    ("moto", "astra-managed-clusters-aws.yaml", "moto"),
])
def test_the_sandbox_names_the_extra_it_needs(tmp_path: Path, missing: str, example: str, named: str) -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT, missing, "plan", "-f", str(EXAMPLES / example),
                           "--sandbox", str(tmp_path / "sb")], capture_output=True, text=True, timeout=120,
                          env={"CMKCTL_LOG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"({named} is missing): pip install 'cmkctl[sandbox]'" in done.stderr, done.stderr
    assert "bug" not in done.stderr and "Traceback" not in done.stderr
