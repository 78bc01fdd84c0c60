"""`cmkctl --help` and `cmkctl validate` must not load a cloud SDK: they start fast and need none."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES

PROBE = """
import sys
from reconciler.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'azure', 'moto'))
print('LOADED', loaded, 'EXIT', code, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["validate", str(EXAMPLES)], ["plan", "--help"]])
def test_no_cloud_sdk_is_imported(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60)
    assert "LOADED [] EXIT 0" in done.stderr, done.stderr


def test_finding_a_served_sandbox_loads_no_emulator() -> None:
    # A run against `cmkctl sandbox serve` reads DIR/endpoints.json; the emulator itself (its TLS
    # authority, its planes) belongs to the serving process and costs a run nothing at start.
    probe = ("import sys, cmkctl_sandbox.served; "
             "print(sorted(m for m in sys.modules if m.startswith(('trustme', 'cmkctl_sandbox.session'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
