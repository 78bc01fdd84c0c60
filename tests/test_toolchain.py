"""The test toolchain installs the same everywhere, and the lowest versions pyproject.toml allows are tested.

`.ci/constraints.txt` pins every Python package the test extra installs and `.ci/.azurite/` locks
Azurite: the README's test command installs from both. `.ci/lowest.txt` pins each dependency at its
lower bound for `.ci/lowest`, which `.ci/run` runs after that command. `.ci/lock` writes both pins.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
CI = ROOT / ".ci"
CONSTRAINTS = CI / "constraints.txt"
LOWEST = CI / "lowest.txt"
AZURITE = CI / ".azurite"
REFRESH = "refresh the pins with `bash .ci/lock` (README, \"Run the tests\")"


def pins(path: Path) -> dict[str, Version]:
    """name -> version of a pin file; every line that is not a comment pins one exact version."""
    pinned: dict[str, Version] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        found = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)", line.strip())
        assert found, f"{path.name}:{number}: not one exact version: {line}"
        pinned[canonicalize_name(found.group(1))] = Version(found.group(2))
    return pinned


def readme_test_command() -> str:
    """The command `.ci/run` extracts: the sh block after the README's test-command marker."""
    after = (ROOT / "README.md").read_text("utf-8").split("<!-- test-command -->", 1)[1]
    return after.split("```sh\n", 1)[1].split("\n```", 1)[0]


def requirements(names: list[str]) -> list[Requirement]:
    return [Requirement(line) for line in names]


def runtime_and_sandbox() -> list[Requirement]:
    return requirements(PROJECT["dependencies"] + PROJECT["optional-dependencies"]["sandbox"])


def installed_with(name: str, extras: frozenset[str], seen: set[tuple[str, str]]) -> set[str]:
    """What installing `name[extras]` brought, read from the installed packages' own requirements."""
    distribution = importlib.metadata.distribution(name)
    found = {canonicalize_name(distribution.metadata["Name"])}
    for line in distribution.requires or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker and not any(marker.evaluate({"extra": extra}) for extra in extras | {""}):
            continue
        for extra in requirement.extras | {""}:
            key = (canonicalize_name(requirement.name), extra)
            if key not in seen:
                seen.add(key)
                found |= installed_with(requirement.name, frozenset(requirement.extras), seen)
    return found


def test_the_readme_test_command_installs_the_pinned_toolchain() -> None:
    command = readme_test_command()
    assert "\n" not in command
    assert "python3 -m venv .venv && .venv/bin/pip install -q -c .ci/constraints.txt -e '.[test]' && " in command
    # `npm ci` installs exactly the committed lock, and fails if it does not match package.json.
    assert "npm ci --prefix .ci/.azurite " in command and "azurite@" not in command


def test_the_constraints_pin_every_package_the_test_extra_installs() -> None:
    installed = installed_with("cmkctl", frozenset({"test"}), set()) - {"cmkctl"}
    unpinned = installed - set(pins(CONSTRAINTS))
    assert not unpinned, f"installed by the test extra but not pinned in .ci/constraints.txt: {sorted(unpinned)}; {REFRESH}"


def test_each_direct_requirement_is_pinned_at_a_version_pyproject_allows() -> None:
    pinned = pins(CONSTRAINTS)
    extras = [line for lines in PROJECT["optional-dependencies"].values() for line in lines]
    for requirement in requirements(PROJECT["dependencies"] + extras):
        if canonicalize_name(requirement.name) == "cmkctl":
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not pinned in .ci/constraints.txt; {REFRESH}"
        assert requirement.specifier.contains(pinned[name]), f"{requirement}, but the pin is {pinned[name]}; {REFRESH}"


def test_each_lower_bound_is_the_version_the_lowest_job_installs() -> None:
    lowest = pins(LOWEST)
    for requirement in runtime_and_sandbox():
        bounds = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        assert len(bounds) == 1, f"pyproject.toml: {requirement} has no single lower bound (>=) to test"
        pinned = lowest.get(canonicalize_name(requirement.name))
        assert pinned == Version(bounds[0]), f"{requirement}, but .ci/lowest.txt pins {pinned}; {REFRESH}"


def test_the_lowest_job_checks_with_the_pinned_runners() -> None:
    runners = [line for line in (CI / "lowest-runners.txt").read_text("utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    lowest, pinned = pins(LOWEST), pins(CONSTRAINTS)
    assert {"pytest", "mypy"} <= {canonicalize_name(name) for name in runners}
    for name in map(canonicalize_name, runners):
        assert lowest[name] == pinned[name], f"{name}: {lowest[name]} in .ci/lowest.txt, {pinned[name]} in the toolchain"


def test_ci_runs_the_lowest_versions_job_after_the_readme_command() -> None:
    run = (CI / "run").read_text("utf-8")
    assert run.index('bash -euo pipefail -c "$command"') < run.index("\nbash .ci/lowest\n")
    job = (CI / "lowest").read_text("utf-8")
    assert "set -euo pipefail" in job
    assert "pip\" install -q -c .ci/lowest.txt -e '.[sandbox]' -r .ci/lowest-runners.txt" in job
    assert '"$venv/bin/mypy"' in job and '"$venv/bin/pytest"' in job


def test_azurite_is_one_exact_version_with_its_whole_tree_locked() -> None:
    version = json.loads((AZURITE / "package.json").read_text("utf-8"))["dependencies"]["azurite"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"azurite {version!r} is a range, not a version"
    lock = json.loads((AZURITE / "package-lock.json").read_text("utf-8"))["packages"]
    assert lock[""]["dependencies"]["azurite"] == version
    assert lock["node_modules/azurite"]["version"] == version
    packages = {path: entry for path, entry in lock.items() if path}
    assert all(entry.get("version") and entry.get("integrity") for entry in packages.values())
