"""Confluent on AWS KMS, for a run: the BYOK key of an AWS KMS key, the statement for Confluent's roles
in the key's policy, and the Dedicated cluster on AWS.

Imported only when a run builds its handlers, so that `validate` loads no provider. Built from the shared
plumbing: one Confluent client (the run's API key) and an AWS session of its own (the manifest's account,
checked with STS before the first KMS call), so that the plug-in reaches both planes without a change
to the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.errors import GrantPendingError, ProviderError
from reconciler.providers.aws_kms import AwsSession, KmsKeyHandler
from reconciler.providers.base import Capability, Live
from reconciler.providers.confluent import BYOK_KEYS, ClusterHandler, ConfluentClient
from reconciler.providers.https import require_https
from reconciler.providers.plumbing import PlaneHandlers, Plumbing, plane_http

# Confluent Cloud's API; CMKCTL_CONFLUENT_ENDPOINT (or the emulator) names another.
ENDPOINT = "https://api.confluent.cloud"
PLANE = "confluent"
AWS_KEY_KIND = "AwsKey"
LISTED = "byok-aws"


def build(plumbing: Plumbing) -> PlaneHandlers:
    connection = plumbing.connection
    url = connection.endpoints.plane("confluent", ENDPOINT)
    require_https(url, plane="confluent")  # refuse a plain-http endpoint before anything runs
    http = plane_http(connection, "confluent", url)
    client = ConfluentClient(http.get, connection.credential("confluent_api_key"),
                             connection.credential("confluent_api_secret"))
    aws = AwsSession(connection, account_id=plumbing.accounts.aws_account_id)
    keys = AwsByokKeys(client)
    return PlaneHandlers(
        by_kind={"confluent_aws_byok_key": AwsByokKeyHandler(keys),
                 "confluent_aws_key_policy": KeyPolicyHandler(KmsKeyHandler(aws)),
                 "confluent_aws_cluster": AwsClusterHandler(client)},
        caches=[client.lists], closers=[http.close, aws.close],
        listings={"confluent_aws_keys": keys.listed})


class AwsByokKeys:
    """The organisation's BYOK keys of AWS KMS keys, listed once per run on the Confluent client."""

    def __init__(self, client: ConfluentClient) -> None:
        self.client = client

    def all(self) -> list[dict[str, Any]]:
        return list(self.client.lists.get(LISTED, self._list))

    def _list(self) -> list[dict[str, Any]]:
        listed = self.client.pages(BYOK_KEYS, what="list Confluent BYOK keys", params={})
        return [key for key in listed if (key.get("key") or {}).get("kind") == AWS_KEY_KIND]

    def forget(self) -> None:
        self.client.lists.forget(LISTED)

    def listed(self) -> list[dict[str, Any]]:
        """BYOK keys as {"id", "keyArn", "roles"}."""
        return [{"id": e.get("id"), "keyArn": str(e["key"]["key_arn"]), "roles": list(e["key"].get("roles") or [])}
                for e in self.all() if e["key"].get("key_arn")]


def byok_live(entry: Mapping[str, Any]) -> Live:
    key = entry.get("key") or {}
    validation = entry.get("validation") or {}
    roles = sorted({str(r) for r in key.get("roles") or []})
    return {
        "id": entry["id"],
        "keyArn": key.get("key_arn"),
        # As a key policy's canonical form holds principals: one as a string, several sorted.
        "roles": roles[0] if len(roles) == 1 else roles,
        "state": entry.get("state"),
        "validationPhase": validation.get("phase"),
        "validationMessage": validation.get("message"),
    }


class AwsByokKeyHandler:
    """BYOK keys of AWS KMS keys, found by the key's ARN (Confluent ids are assigned on create)."""

    kind = "confluent_aws_byok_key"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, keys: AwsByokKeys) -> None:
        self._keys = keys

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        # The oldest registration wins, so reruns keep agreeing on one when several exist.
        found = next((k for k in self._keys.all() if k["key"].get("key_arn") == identity["keyArn"]), None)
        return byok_live(found) if found else None

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        # POST is not idempotent: a run killed after it must not register the key twice, so look afresh.
        self._keys.forget()
        existing = self.read(identity=identity)
        if existing is not None:
            return existing
        try:
            created = self._keys.client.create_byok_key({"key": {"kind": AWS_KEY_KIND, "key_arn": identity["keyArn"]}})
        finally:
            self._keys.forget()
        live = byok_live(created)
        if not live["roles"]:
            raise ProviderError("Confluent registered the key but returned no roles", plane=PLANE)
        return live

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        raise ProviderError("a Confluent BYOK key is immutable: another KMS key is registered as a new BYOK key",
                            plane=PLANE)


class KeyPolicyHandler:
    """The statements for Confluent's roles in a KMS key's policy, merged by Sid through the KMS key's own
    handler: the owner's statements stay, and a policy that locks the account out or names any principal
    without a condition is refused before it is put."""

    kind = "confluent_aws_key_policy"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, keys: KmsKeyHandler) -> None:
        self._keys = keys

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        live: Live | None = self._keys.read(identity=identity)
        return live

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        live = self.read(identity=identity)
        if live is None:
            raise ProviderError(f"KMS key {identity['alias']} does not exist yet", plane="aws")
        return self.update(identity=identity, attributes=attributes, live=live)

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        updated: Live = self._keys.update(identity=identity, attributes=attributes, live=live)
        return updated


class AwsClusterHandler(ClusterHandler):
    """Dedicated clusters on AWS, found by display name; created once Confluent reports the key VALID."""

    kind = "confluent_aws_cluster"

    def _wait_until_valid(self, byok_key_id: str) -> None:
        entry = self._client.byok_key(byok_key_id)
        validation = entry.get("validation") or {}
        phase, message = validation.get("phase"), validation.get("message") or ""
        if phase in (None, "VALID"):
            return
        arn = (entry.get("key") or {}).get("key_arn", "?")
        waiting = f"the key policy of {arn} to let Confluent's roles use BYOK key {byok_key_id}"
        if phase == "INVALID":
            raise GrantPendingError(f"Confluent reports BYOK key {byok_key_id} INVALID: {message or 'no reason given'} "
                                    "Check that the key is a symmetric KMS key in the cluster's region and that its "
                                    "policy lets every role Confluent returned use it", plane=PLANE, code="INVALID",
                                    awaiting=waiting)
        raise GrantPendingError(f"Confluent is still validating BYOK key {byok_key_id} ({phase})", plane=PLANE,
                                code=str(phase), awaiting=waiting)
