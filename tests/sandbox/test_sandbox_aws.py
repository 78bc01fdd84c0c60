"""The sandbox's AWS plane: moto's KMS survives the process through DIR/kms.pickle."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmkctl_sandbox import Sandbox, load_state
from cmkctl_sandbox.aws import KMS_FILE

boto3 = pytest.importorskip("boto3")
ACCOUNT = "123456789012"


def kms(sandbox: Sandbox, region: str = "us-east-2", *, key_id: str | None = None, secret: str | None = None) -> object:
    """A KMS client of the emulator's moto: over HTTPS with its CA, signing with the keys it issued."""
    return boto3.client("kms", region_name=region, endpoint_url=sandbox.endpoints.aws,
                        verify=sandbox.endpoints.ca_bundle,
                        aws_access_key_id=key_id or sandbox.issued.aws_access_key_id,
                        aws_secret_access_key=secret or sandbox.issued.aws_secret_access_key)


def test_keys_of_every_spec_survive_a_restart(tmp_path: Path) -> None:
    made = {}
    with Sandbox(tmp_path, aws_account_id=ACCOUNT) as sandbox:
        assert sandbox.endpoints.aws is not None and sandbox.endpoints.aws.startswith("https://127.0.0.1:")
        client = kms(sandbox)
        for spec, usage in (("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("RSA_2048", "SIGN_VERIFY"),
                            ("ECC_NIST_P256", "SIGN_VERIFY")):
            made[spec] = client.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["Arn"]  # type: ignore[attr-defined]
        client.create_alias(AliasName="alias/kept", TargetKeyId=made["SYMMETRIC_DEFAULT"])  # type: ignore[attr-defined]
        blob = client.encrypt(KeyId="alias/kept", Plaintext=b"secret")["CiphertextBlob"]  # type: ignore[attr-defined]
        public = client.get_public_key(KeyId=made["RSA_2048"])["PublicKey"]  # type: ignore[attr-defined]
    assert (tmp_path / KMS_FILE).exists()
    with Sandbox(tmp_path, aws_account_id=ACCOUNT) as sandbox:
        client = kms(sandbox)
        assert client.describe_key(KeyId="alias/kept")["KeyMetadata"]["Arn"] == made["SYMMETRIC_DEFAULT"]  # type: ignore[attr-defined]
        assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"  # type: ignore[attr-defined]
        assert client.get_public_key(KeyId=made["RSA_2048"])["PublicKey"] == public  # type: ignore[attr-defined]
    assert {k["arn"] for k in load_state(tmp_path)["kms"]["keys"]} == set(made.values())


def test_only_the_credentials_it_issued_sign_requests_moto_answers(tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    with Sandbox(tmp_path, aws_account_id=ACCOUNT) as sandbox:
        for key_id, secret, code in ((None, "not-the-issued-secret", "InvalidSignatureException"),
                                     ("AKIAOTHER00000000000", None, "UnrecognizedClientException")):
            with pytest.raises(ClientError) as refused:
                kms(sandbox, key_id=key_id, secret=secret).list_keys()  # type: ignore[attr-defined]
            assert refused.value.response["Error"]["Code"] == code
        assert kms(sandbox).list_keys()["Keys"] == []  # type: ignore[attr-defined]
        assert [c["status"] for c in sandbox.calls()] == [400, 400, 200]


def test_a_new_sandbox_starts_without_the_keys_of_another(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "one", aws_account_id=ACCOUNT) as sandbox:
        kms(sandbox).create_key()  # type: ignore[attr-defined]
    with Sandbox(tmp_path / "two", aws_account_id=ACCOUNT) as sandbox:
        assert kms(sandbox).list_keys()["Keys"] == []  # type: ignore[attr-defined]


def test_the_aws_plane_starts_only_when_asked(tmp_path: Path) -> None:
    with Sandbox(tmp_path) as sandbox:
        assert sandbox.endpoints.aws is None


def test_a_region_aws_does_not_have_is_refused_in_one_line_as_aws_refuses_it(tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    with Sandbox(tmp_path, aws_account_id=ACCOUNT) as sandbox:
        with pytest.raises(ClientError) as refused:
            kms(sandbox, "eu-centrall-1").list_keys()  # type: ignore[attr-defined]
        error = refused.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-centrall-1'.")
        assert kms(sandbox, "eu-central-1").list_keys()["Keys"] == []  # type: ignore[attr-defined]
        assert [c["status"] for c in sandbox.calls()] == [400, 200]
