"""A lock shared by many machines: one DynamoDB item per key set, taken with a conditional write.

The table has a string partition key `LockID` (Terraform's S3 backend uses the same layout, so an
existing lock table can serve). PutItem succeeds only if no item exists (`attribute_not_exists`);
release deletes the item only if it is still ours (its `id`). Nothing expires on its own: an apply
killed while holding the lock leaves it, and `cmkctl lock break` removes it, naming whom it held it for.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from reconciler.core.errors import CredentialError
from reconciler.core.lock import UNKNOWN_HOLDER, Holder, LockError, break_advice, holder_to_break
from reconciler.providers.aws_wire import observe

KEY = "LockID"


class DynamoDbLock:
    def __init__(self, table: str, region: str, key_set: str, *, endpoint: str | None = None,
                 break_flags: str = "") -> None:
        self.table, self.region, self.key_set = table, region, key_set
        self.break_flags = break_flags  # the flags that chose this lock, which `lock break` needs too
        self.where = f"DynamoDB table {table} in {region}"
        self._endpoint = endpoint
        self._client: Any = None

    @property
    def lock_id(self) -> str:
        return f"cmkctl/{self.key_set}"

    def _dynamodb(self) -> Any:
        if self._client is None:
            import boto3

            from reconciler.providers.aws_common import client_config, https_only_client, https_only_session

            # botocore's own retries stay on (standard mode): no retry policy of cmkctl's wraps a lock call.
            session = https_only_session(boto3.session.Session())
            self._client = https_only_client(session.client("dynamodb", region_name=self.region,
                                                            endpoint_url=self._endpoint,
                                                            config=client_config(self._endpoint, mode="standard")))
            observe(self._client)  # the lock's calls show in --debug and --audit-log like every other
        return self._client

    def try_acquire(self, holder: Holder) -> Holder | None:
        item = {KEY: {"S": self.lock_id}, **{k: {"S": str(v)} for k, v in asdict(holder).items()}}
        try:
            self._dynamodb().put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(#k)",
                                      ExpressionAttributeNames={"#k": KEY})
        except Exception as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise _translate(error, f"taking the lock in {self.where}") from error
            return self.holder() or UNKNOWN_HOLDER
        return None

    def advice(self, holder: Holder) -> str:
        return break_advice(holder, self.break_flags)

    def release(self, holder: Holder) -> None:
        try:
            self._dynamodb().delete_item(TableName=self.table, Key={KEY: {"S": self.lock_id}},
                                         ConditionExpression="id = :id",
                                         ExpressionAttributeValues={":id": {"S": holder.id}})
        except Exception as error:
            if _code(error) != "ConditionalCheckFailedException":  # broken meanwhile: not ours any more
                raise _translate(error, f"releasing the lock in {self.where}") from error

    def holder(self) -> Holder | None:
        try:
            answer = self._dynamodb().get_item(TableName=self.table, Key={KEY: {"S": self.lock_id}},
                                               ConsistentRead=True)
        except Exception as error:
            raise _translate(error, f"reading the lock in {self.where}") from error
        item = answer.get("Item")
        if not item:
            return None
        value = {k: v.get("S", "") for k, v in item.items() if k != KEY}
        return Holder(who=value.get("who", "?"), host=value.get("host", "?"), pid=int(value.get("pid") or 0),
                      since=value.get("since", "?"), id=value.get("id", "?"), key_set=value.get("key_set", ""))

    def break_lock(self, lock_id: str | None) -> Holder | None:
        """Remove the lock (only if its id is `lock_id`, when given); returns whom it was held for."""
        current = holder_to_break(self.where, self.holder(), lock_id)
        if current is None:
            return None
        try:
            self._dynamodb().delete_item(TableName=self.table, Key={KEY: {"S": self.lock_id}},
                                         ConditionExpression="id = :id",
                                         ExpressionAttributeValues={":id": {"S": current.id}})
        except Exception as error:
            raise _translate(error, f"breaking the lock in {self.where}") from error
        return current


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _translate(error: Exception, what: str) -> Exception:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return CredentialError(f"{what}: no usable AWS credentials in the default chain")
    if isinstance(error, ClientError | BotoCoreError):
        return LockError(f"{what}: {_code(error) or type(error).__name__}: "
                         f"{getattr(error, 'response', {}).get('Error', {}).get('Message', '')}".rstrip(": "))
    return error
