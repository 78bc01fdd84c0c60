"""A credential goes out over HTTPS only, whatever configured the endpoint: each attack is played with the
environment an operator could have, against a plain-http listener on loopback that the test runs, and the
listener receives nothing, not even a connection."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox.state import read_calls
from reconciler.core.errors import ProviderError
from reconciler.manifest.model import Accounts
from reconciler.systems import PLUGINS
from tests.conftest import EXAMPLES, Result, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
DEVELOPMENT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class Listener:
    """A TCP listener on 127.0.0.1 that keeps every connection and every byte it is sent."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port: int = self._socket.getsockname()[1]
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.settimeout(1)
            with suppress(OSError):
                self.received += connection.recv(65536)
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


@contextmanager
def listening() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()
    assert (listener.connections, listener.received) == (0, b""), listener.received[:300]


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An operator's AWS credentials (canaries), and no config or credentials file but the test's own."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACANARYHTTPS00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-https-aws-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "canary-https-session-token")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_STS",
                 "AWS_ENDPOINT_URL_DYNAMODB", "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("configured", ["config file", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
                                        "AWS_ENDPOINT_URL_KMS"])
def test_kms_and_sts_refuse_a_plain_http_endpoint_from_botocores_own_configuration(
        aws_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, configured: str) -> None:
    from reconciler.providers.aws_kms import AwsSession
    from reconciler.providers.base import Connection, Endpoints

    with listening() as listener:
        if configured == "config file":
            write(tmp_path / "config", f"[default]\nregion = us-east-1\nendpoint_url = {listener.url}\n")
            monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
        else:
            monkeypatch.setenv(configured, listener.url)
        session = AwsSession(Connection(endpoints=Endpoints()), account_id="123456789012")
        with pytest.raises(ProviderError, match="is not https"):
            session.warm_up(["us-east-1"])  # makes the STS and KMS clients a run uses, refused as they are made
        session.close()


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"])
def test_the_dynamodb_lock_refuses_a_plain_http_endpoint_before_its_put(
        cmkctl: Callable[..., Result], aws_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        variable: str) -> None:
    with listening() as listener:
        monkeypatch.setenv(variable, listener.url)
        declared = _with_lock(tmp_path, "dynamodb: {table: cmkctl-locks, region: us-east-1}")
        refused = cmkctl("apply", "-f", declared, "--sandbox", tmp_path / "sb", "--auto-approve")
    assert refused.code == 1 and "is not https" in refused.err, refused.err
    assert "canary" not in refused.out + refused.err


@pytest.mark.parametrize("credential", ["AccountKey=" + DEVELOPMENT_KEY, "SharedAccessSignature=sv=2024-11-04&sig=canarysas"])
def test_the_blob_lock_refuses_a_connection_string_in_clear(
        cmkctl: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, credential: str) -> None:
    with listening() as listener:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                           f"DefaultEndpointsProtocol=http;AccountName=acmelocks;{credential};"
                           f"BlobEndpoint={listener.url}/acmelocks;")
        declared = _with_lock(tmp_path, "azureBlob: {account: acmelocks, container: locks}")
        refused = cmkctl("apply", "-f", declared, "--sandbox", tmp_path / "sb", "--auto-approve")
    assert refused.code == 1 and "is not https" in refused.err, refused.err
    assert "canarysas" not in refused.err and DEVELOPMENT_KEY not in refused.err


def test_a_lock_blob_account_is_an_account_name_not_a_host(cmkctl: Callable[..., Result], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with listening() as listener:
        hostile = f"127.0.0.1:{listener.port}/x?"
        # On the command line, beside the manifest's own lock: refused as naming another lock.
        declared = _with_lock(tmp_path, "azureBlob: {account: acmelocks, container: locks}")
        flagged = cmkctl("apply", "-f", declared, "--sandbox", tmp_path / "sb", "--auto-approve",
                         "--lock-blob-account", hostile, "--lock-blob-container", "locks")
        # In the manifest: refused by validate's grammar for the field.
        written = _with_lock(tmp_path, f"azureBlob: {{account: '{hostile}', container: locks}}")
        invalid = cmkctl("apply", "-f", written, "--sandbox", tmp_path / "sb", "--auto-approve")
    assert flagged.code == 1 and "acmelocks" in flagged.err, flagged.err
    assert invalid.code == 3 and "account" in invalid.err, invalid.err
    # And the lock itself, however it is built, takes no host for an account.
    from reconciler.core.lock import LockError
    from reconciler.providers.azure_blob_lock import BlobLeaseLock

    with pytest.raises(LockError, match=r"is not a storage account name \(3 to 24 lowercase letters and digits\)"):
        BlobLeaseLock(hostile, "locks", None, "acme-astra")


def _with_lock(folder: Path, lock: str) -> Path:
    """The example, declaring its key set's lock as a team would."""
    text = EXAMPLE.read_text().replace("\naccounts:", f"\nlock:\n  {lock}\naccounts:", 1)
    return write(folder / f"locked-{len(list(folder.glob('locked-*.yaml')))}.yaml", text)


def test_an_httpx_client_refuses_a_plain_http_url_whatever_its_base() -> None:
    from reconciler.providers.https import new_client, send

    with listening() as listener:
        client = new_client("https://api.astra.datastax.com", plane="astra", ca_bundle=None)
        with pytest.raises(ProviderError, match="is not https"):
            send(client, "GET", f"{listener.url}/v2/kms", plane="astra", headers={"Authorization": "Bearer canary"})
        client.close()


def test_an_azure_client_refuses_a_plain_http_request_for_every_kind_of_credential() -> None:
    from azure.core import PipelineClient
    from azure.core.credentials import AzureKeyCredential
    from azure.core.pipeline.policies import AzureKeyCredentialPolicy
    from azure.core.rest import HttpRequest

    from reconciler.core.clock import SYSTEM_CLOCK
    from reconciler.providers.transport import azure_transport

    with listening() as listener:
        transport = azure_transport(clock=SYSTEM_CLOCK, routes=(), ca_bundle=None)
        policies: list[Any] = [AzureKeyCredentialPolicy(AzureKeyCredential("canary-api-key"), "api-key")]
        with PipelineClient(base_url=listener.url, transport=transport, policies=policies) as client, \
                pytest.raises(ProviderError, match="is not https"):
            client.send_request(HttpRequest("GET", f"{listener.url}/anything"))


def test_every_client_of_a_run_s_aws_session_refuses_a_plain_http_request(aws_credentials: None) -> None:
    """Also the clients botocore makes for itself (an assumed role's STS), which cmkctl never sees made:
    the session's before-send hook refuses their requests."""
    import boto3

    from reconciler.providers.aws_common import https_only_session

    with listening() as listener:
        session = https_only_session(boto3.session.Session(region_name="us-east-1"))
        made_by_botocore = session.client("sts", endpoint_url=listener.url)
        with pytest.raises(ProviderError, match="is not https"):
            made_by_botocore.get_caller_identity()
        made_by_botocore.close()


def test_loopback_is_never_reached_through_a_proxy(cmkctl: Callable[..., Result], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment's proxy is for the clouds: the emulator on loopback (ARM, Key Vault's vaults through
    the host mapping, Astra, moto) is reached directly, by every client."""
    with listening() as proxy:
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        rotation = EXAMPLES / "key-rotation.yaml"  # its plan after the apply reads the vault's data plane
        for args in (["apply", "-f", rotation, "--auto-approve"], ["plan", "-f", rotation, "--detailed-exitcode"],
                     ["plan", "-f", EXAMPLES / "astra-managed-clusters-aws.yaml"]):
            done = cmkctl(*args, "--sandbox", tmp_path / Path(args[2]).stem)
            assert done.code == 0, done.out + done.err
    assert any(c["plane"] == "keyvault" for c in read_calls(tmp_path / "key-rotation"))


def test_a_host_mapping_may_only_send_to_loopback() -> None:
    from reconciler.providers.base import Connection, Endpoints, HostRoute
    from reconciler.providers.registry import build_handlers

    elsewhere = Endpoints(routes=(HostRoute(".vault.azure.net", "203.0.113.7", 443),))
    with pytest.raises(ProviderError, match=r"only send \.vault\.azure\.net to a loopback address"):
        build_handlers(Connection(endpoints=elsewhere), Accounts(), PLUGINS)
    loopback = Endpoints(routes=(HostRoute(".vault.azure.net", "127.0.0.1", 443),))
    build_handlers(Connection(endpoints=loopback), Accounts(), PLUGINS).close()
