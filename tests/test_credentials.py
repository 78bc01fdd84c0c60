"""A real run without credentials fails at once: one short line per plane, naming what was tried
and the fix, and no SDK log output unless --debug. Nothing here reaches beyond loopback: every
endpoint, the Azure instance metadata service included, is a loopback port that refuses."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.usecases.session import ENDPOINT_VARIABLES
from tests.conftest import EXAMPLES, Result

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
ASTRA = EXAMPLES / "astra-serverless-azure.yaml"
CREDENTIAL_PREFIXES = ("AZURE_", "AWS_", "ASTRA_", "CONFLUENT_", "MSI_", "IDENTITY_", "CMKCTL_")


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: every connection to it is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, refusing_port: int) -> None:
    for name in list(os.environ):
        if name.startswith(CREDENTIAL_PREFIXES) and name != "CMKCTL_LOG_DIR":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no ~/.azure, ~/.aws
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no az, azd or pwsh to ask
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    loopback = f"https://127.0.0.1:{refusing_port}"
    for variable in ENDPOINT_VARIABLES.values():
        monkeypatch.setenv(variable, loopback)
    import azure.identity._credentials.imds as imds

    monkeypatch.setattr(imds, "IMDS_AUTHORITY", f"http://127.0.0.1:{refusing_port}")


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the run asks for (retries, backoff, polls: all go through the run's clock, here the
    system's), recorded instead of slept: a run that fails at once asks for none, where one that tried
    its reads would wait out its retries. (Not `time.sleep` itself: azure-identity's chain runs
    `pwsh` through a subprocess, whose wait polls with it, at no request of the run's.)"""
    from reconciler.core.clock import SystemClock

    asked: list[float] = []
    monkeypatch.setattr(SystemClock, "sleep", lambda self, seconds: asked.append(seconds))
    return asked


@pytest.mark.usefixtures("no_credentials")
def test_no_credentials_at_all_is_one_line_per_plane(cmkctl: Callable[..., Result], waits: list[float]) -> None:
    result = cmkctl("plan", "-f", ALL_SYSTEMS)
    assert result.code == 1
    assert waits == []
    lines = result.err.splitlines()
    assert lines[0] == "Error: no usable credentials; nothing was read or changed:"
    assert sorted(line.split(":")[0] for line in lines[1:]) == ["  - AWS", "  - Astra", "  - Azure", "  - Confluent"]
    assert "tried: environment variables, workload identity, managed identity" in result.err
    for fix in ("`az login`", "AZURE_CLIENT_ID", "AWS_PROFILE", "ASTRA_DB_APPLICATION_TOKEN is not set",
                "CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET are not set"):
        assert fix in result.err
    assert "DefaultAzureCredential" not in result.err
    assert all(len(line) < 400 for line in lines)


@pytest.mark.usefixtures("no_credentials")
def test_no_azure_login_fails_at_once_without_reading(cmkctl: Callable[..., Result],
                                                      monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    # Astra's token is there, and its endpoint refuses: reads would retry for a minute.
    monkeypatch.setenv("ASTRA_DB_APPLICATION_TOKEN", "canary-astra-token-0c4e")
    result = cmkctl("plan", "-f", ASTRA)
    assert result.code == 1
    assert waits == []
    assert result.err.splitlines()[1:] == [next(line for line in result.err.splitlines() if "Azure:" in line)]
    assert "Fix: run `az login`" in result.err
    assert "canary-astra-token-0c4e" not in result.err


@pytest.mark.usefixtures("no_credentials")
def test_sdk_log_output_goes_to_the_debug_log_only(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    debug_log = tmp_path / "debug.log"
    result = cmkctl("plan", "-f", ASTRA, "--debug-file", debug_log)
    assert result.code == 1
    assert "DefaultAzureCredential failed" not in result.err
    logged = debug_log.read_text()
    assert "cmkctl log azure.identity" in logged and "DefaultAzureCredential failed" in logged
    assert len([line for line in logged.splitlines() if "DefaultAzureCredential failed" in line]) == 1
