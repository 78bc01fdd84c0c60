"""AWS KMS keys through boto3: alias, description, rotation, tags and the key policy.

boto3 is imported on first use, so `validate` and Azure-only runs never load it. Credentials come
from boto3's default chain (environment, profile, SSO, web identity); the region is the manifest
region's. Before the first call in a run, STS says which account the caller is in: cmkctl refuses
to act in another account than the manifest names.

`CreateKey` is not idempotent, so every key cmkctl creates carries tags naming the key set and
its manifest address, and `create` looks for such a key before it makes one: an apply killed
between `CreateKey` and `CreateAlias` is finished by the next one, with one key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from reconciler.core import kms_policy
from reconciler.core.errors import CredentialError, GuardError, ProviderError, TransientError
from reconciler.providers.aws_common import client_config, https_only_client, https_only_session
from reconciler.providers.aws_wire import observe
from reconciler.providers.base import Capability, Connection, Live
from reconciler.providers.https import require_https

PLANE = "aws"
TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "RequestLimitExceeded", "KMSInternalException",
    "DependencyTimeoutException", "InternalFailure", "ServiceUnavailable", "InternalError",
})
CREDENTIAL_CODES = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken",
    "SignatureDoesNotMatch", "IncompleteSignature", "InvalidSignatureException",
})
# Keys in these states are not ours to use or repair: cmkctl never enables or undeletes a key.
UNUSABLE_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion", "Disabled", "Unavailable"})


def checked_endpoint(url: str | None) -> str | None:
    """https only (None: botocore's own endpoint, checked when the client is made)."""
    return None if url is None else require_https(url, plane=PLANE)


def translate(error: Exception, what: str) -> Exception:
    """botocore's exceptions as cmkctl's; the message names the AWS error code, never a credential."""
    from botocore import exceptions as aws

    if isinstance(error, aws.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = f"{what}: {code}: {message}" if message else f"{what}: {code}"
        if code in CREDENTIAL_CODES:
            return CredentialError(f"{text} (check the AWS credentials of the default chain)")
        if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
            return TransientError(text, plane=PLANE, code=code, status=status)
        return ProviderError(text, plane=PLANE, code=code, status=status)
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError | aws.NoRegionError):
        return CredentialError(f"{what}: {type(error).__name__}: no usable AWS credentials in the default chain "
                               "(environment, profile, SSO, web identity)")
    if isinstance(error, aws.EndpointConnectionError | aws.ConnectionError | aws.HTTPClientError):
        return TransientError(f"{what}: {type(error).__name__}", plane=PLANE, code="connection")
    return ProviderError(f"{what}: {type(error).__name__}", plane=PLANE)


AWS_CHAIN = ("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared config and credentials files, "
             "SSO, web identity, container and instance metadata")
AWS_FIX = ("set AWS_PROFILE to a configured profile (`aws configure`, or `aws sso login --profile NAME`), or "
           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no usable credentials"


def call(what: str, function: Callable[..., Any], **kwargs: Any) -> Any:
    """One KMS/STS call, tried once; SDK errors translated (throttling, 5xx and connection failures
    to TransientError, which the engine's retry policy waits out on the run's clock)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return function(**kwargs)
    except (ClientError, BotoCoreError) as error:
        raise translate(error, what) from error


def iam_principal(caller_arn: str) -> str:
    """The ARN a key policy names for the caller: an assumed role's session is its role."""
    prefix, _, rest = caller_arn.partition(":assumed-role/")
    if not rest:
        return caller_arn
    account = prefix.rsplit(":", 1)[-1] if prefix.count(":") >= 4 else ""
    return f"arn:aws:iam::{account}:role/{rest.split('/')[0]}"


class AwsSession:
    """One boto3 session per run, a client per (service, region), and the account guard."""

    def __init__(self, connection: Connection, *, account_id: str | None) -> None:
        self._endpoint = checked_endpoint(connection.endpoints.aws)
        self._ca_bundle = connection.endpoints.ca_bundle
        self._keys = connection.aws_static_keys
        self._account_id = account_id
        self._lock = threading.Lock()
        self._guard_lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._caller: dict[str, str] | None = None

    def kms(self, region: str) -> Any:
        self._guard(region)
        return self._client("kms", region)

    def caller_arn(self, region: str) -> str:
        return self._guard(region)["Arn"]

    def _guard(self, region: str) -> dict[str, str]:
        with self._guard_lock:  # one STS call per run, however many regions plan at once
            if self._caller is None:
                sts = self._client("sts", region)
                answer = call("asking STS who the caller is", sts.get_caller_identity)
                self._caller = {"Account": str(answer["Account"]), "Arn": str(answer["Arn"])}
            caller = self._caller
        if self._account_id is not None and caller["Account"] != self._account_id:
            raise GuardError(f"refusing to act in AWS account {caller['Account']}: the manifest names "
                             f"{self._account_id} (accounts.aws.accountId)")
        return caller

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                client = self._new_client(service, region)
                self._clients[(service, region)] = client
            return client

    def check_credentials(self) -> None:
        """Before a real run reads anything: resolve the default chain once (locally, but for the
        instance metadata it may ask), and say what to do when it finds nothing."""
        with self._lock:  # first: boto3 is imported under this lock, as the warm-up imports it
            session = self._boto_session()
        from botocore.exceptions import BotoCoreError

        try:
            found = session.get_credentials()
        except BotoCoreError as error:  # a named profile missing, an SSO token expired...
            raise CredentialError(f"AWS: {_first_line(str(error))}. Fix: {AWS_FIX}") from None
        if found is None:
            raise CredentialError(f"AWS: no credentials in the default chain (tried: {AWS_CHAIN}). Fix: {AWS_FIX}")

    def _boto_session(self) -> Any:
        import boto3

        if self._session is None:
            if self._keys is not None:
                session = boto3.session.Session(aws_access_key_id=self._keys[0],
                                                aws_secret_access_key=self._keys[1].reveal())
            else:
                session = boto3.session.Session()
            self._session = https_only_session(session)
        return self._session

    def _new_client(self, service: str, region: str) -> Any:
        self._boto_session()
        # botocore tries each call once: the engine's retry policy is the one owner of retries, so that
        # every wait is on the run's clock and within its budget (botocore's would sleep on its own).
        config = client_config(self._endpoint, total_max_attempts=1, mode="standard")
        client = https_only_client(self._session.client(service, region_name=region, endpoint_url=self._endpoint,
                                                        config=config, verify=self._ca_bundle))
        observe(client)
        return client

    def warm_up(self, regions: Sequence[str]) -> None:
        """Make the STS and KMS clients of `regions` now. botocore decodes its endpoint and service
        data (~0.5 s of CPU) on the first client: done while the run waits on the network, not
        while every KMS read waits on this session's lock."""
        for index, region in enumerate(regions):
            if index == 0:
                self._client("sts", region)
            self._client("kms", region)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def _wanted_statements(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, statement in attributes.items():
        sid = kms_policy.sid_of(name)
        if sid is not None:
            found[sid] = dict(statement)
    return found


class KmsKeyHandler:
    kind = "aws_kms_key"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, session: AwsSession) -> None:
        self._session = session

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        client = self._session.kms(identity["region"])
        meta = self._describe(client, identity["alias"])
        return None if meta is None else self._live(client, identity["alias"], meta)

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        region, alias = identity["region"], identity["alias"]
        client = self._session.kms(region)
        wanted = _wanted_statements(attributes)
        meta = self._find_tagged(client, attributes.get("tags") or {})
        if meta is None:
            policy = kms_policy.new_policy(wanted)
            self._refuse_lockout(identity, policy)
            meta = call(f"creating the KMS key for {alias}", client.create_key,
                        Policy=json.dumps(policy), Description=attributes.get("description", ""),
                        KeyUsage=attributes["keyUsage"], KeySpec=attributes["keySpec"],
                        Tags=[{"TagKey": k, "TagValue": v} for k, v in sorted((attributes.get("tags") or {}).items())],
                        BypassPolicyLockoutSafetyCheck=False)["KeyMetadata"]
        else:
            # A key this key set created, left without its alias by an apply that was cut short.
            self._put_policy(client, identity, meta["KeyId"], self._policy(client, meta["KeyId"]), wanted)
            if meta.get("Description", "") != attributes.get("description", ""):
                call(f"describing {alias}", client.update_key_description, KeyId=meta["KeyId"],
                     Description=attributes.get("description", ""))
        self._alias(client, alias, meta["KeyId"])
        if attributes.get("enableKeyRotation"):
            call(f"enabling rotation of {alias}", client.enable_key_rotation, KeyId=meta["KeyId"])
        return self._live(client, alias, self._describe_id(client, meta["KeyId"]))

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        alias = identity["alias"]
        client = self._session.kms(identity["region"])
        key_id = str(live["keyId"])
        if "description" in attributes:
            call(f"describing {alias}", client.update_key_description, KeyId=key_id,
                 Description=attributes["description"])
        if "enableKeyRotation" in attributes:
            rotate = client.enable_key_rotation if attributes["enableKeyRotation"] else client.disable_key_rotation
            call(f"setting rotation of {alias}", rotate, KeyId=key_id)
        wanted = _wanted_statements(attributes)
        if wanted:
            self._put_policy(client, identity, key_id, live.get("policyDocument"), wanted)
        return self._live(client, alias, self._describe_id(client, key_id))

    def _put_policy(self, client: Any, identity: Mapping[str, Any], key_id: str, live: Any,
                    wanted: Mapping[str, Mapping[str, Any]]) -> None:
        merged = kms_policy.merge(live, wanted)
        if kms_policy.by_sid(merged) == kms_policy.by_sid(kms_policy.parse(live)):
            return
        self._refuse_lockout(identity, merged)
        call(f"putting the key policy of {identity['alias']}", client.put_key_policy, KeyId=key_id,
             PolicyName="default", Policy=json.dumps(merged), BypassPolicyLockoutSafetyCheck=False)

    def _refuse_lockout(self, identity: Mapping[str, Any], policy: Mapping[str, Any]) -> None:
        region = identity["region"]
        caller = iam_principal(self._session.caller_arn(region))
        principals = [kms_policy.root_arn(identity["accountId"]), caller] if identity.get("accountId") else [caller]
        if not kms_policy.can_manage(policy["Statement"], principals):
            raise ProviderError(f"refusing to set the key policy of {identity['alias']}: neither the account root "
                                f"nor the caller ({caller}) could change it afterwards", plane=PLANE)
        wildcards = kms_policy.unconditioned_wildcards(policy["Statement"])
        if wildcards:
            raise ProviderError(f"refusing to set the key policy of {identity['alias']}: statement(s) "
                                f"{', '.join(map(repr, wildcards))} name any principal without a condition",
                                plane=PLANE)

    def _alias(self, client: Any, alias: str, key_id: str) -> None:
        try:
            call(f"creating {alias}", client.create_alias, AliasName=alias, TargetKeyId=key_id)
        except ProviderError as error:
            if error.code != "AlreadyExistsException":
                raise
            target = self._describe(client, alias)
            if target is None or target["KeyId"] != key_id:
                raise ProviderError(f"{alias} already names another key; cmkctl does not move aliases",
                                    plane=PLANE) from None

    def _describe(self, client: Any, key: str) -> dict[str, Any] | None:
        try:
            meta: dict[str, Any] = call(f"describing {key}", client.describe_key, KeyId=key)["KeyMetadata"]
        except ProviderError as error:
            if error.code == "NotFoundException":
                return None
            raise
        return meta

    def _describe_id(self, client: Any, key_id: str) -> dict[str, Any]:
        meta = self._describe(client, key_id)
        if meta is None:
            raise TransientError(f"KMS key {key_id} is not visible yet", plane=PLANE, code="NotFoundException")
        return meta

    def _policy(self, client: Any, key_id: str) -> dict[str, Any]:
        answer = call(f"reading the key policy of {key_id}", client.get_key_policy, KeyId=key_id,
                      PolicyName="default")
        return kms_policy.parse(answer["Policy"])

    def _tags(self, client: Any, key_id: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        for page in self._pages(client, "list_resource_tags", f"listing the tags of {key_id}", KeyId=key_id):
            tags.update({t["TagKey"]: t["TagValue"] for t in page.get("Tags", [])})
        return tags

    def _pages(self, client: Any, operation: str, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator = client.get_paginator(operation)
        pages = call(what, lambda: list(paginator.paginate(**kwargs)))
        yield from pages

    def _find_tagged(self, client: Any, tags: Mapping[str, str]) -> dict[str, Any] | None:
        """The oldest usable customer key carrying every one of `tags`, if an earlier run made one."""
        if not tags:
            return None
        found = []
        for page in self._pages(client, "list_keys", "listing KMS keys"):
            for entry in page.get("Keys", []):
                if self._tags_of_customer_key(client, entry["KeyId"]).items() >= dict(tags).items():
                    meta = self._describe(client, entry["KeyId"])
                    if meta is not None and meta.get("KeyState") not in UNUSABLE_STATES:
                        found.append(meta)
        return min(found, key=lambda m: str(m.get("CreationDate", ""))) if found else None

    def _tags_of_customer_key(self, client: Any, key_id: str) -> dict[str, str]:
        try:
            return self._tags(client, key_id)
        except ProviderError as error:
            # AWS managed keys may refuse ListResourceTags; a key cmkctl made never does.
            if error.code in ("AccessDeniedException", "NotFoundException"):
                return {}
            raise

    def _live(self, client: Any, alias: str, meta: Mapping[str, Any]) -> Live:
        key_id = str(meta["KeyId"])
        if meta.get("KeyState") in UNUSABLE_STATES:
            raise ProviderError(f"{alias} names KMS key {key_id}, which is {meta['KeyState']}: cmkctl never enables "
                                "or restores a key; restore it yourself or declare another alias", plane=PLANE)
        policy = self._policy(client, key_id)
        rotation = call(f"reading the rotation of {alias}", client.get_key_rotation_status, KeyId=key_id)
        return {
            "arn": meta["Arn"],
            "keyId": key_id,
            "keyState": meta.get("KeyState"),
            "description": meta.get("Description", ""),
            "enableKeyRotation": bool(rotation.get("KeyRotationEnabled")),
            "keySpec": meta.get("KeySpec", meta.get("CustomerMasterKeySpec")),
            "keyUsage": meta.get("KeyUsage"),
            # Tags are set at creation and never compared (create-only), so a read does not list them:
            # one request fewer per key. Only the search for a key a killed run made reads tags.
            "policyDocument": policy,
            **kms_policy.by_sid(policy),
        }
