"""The --debug wire log: what was sent shows (query included), the secrets in it never do."""

from __future__ import annotations

import io
import json
from typing import Any

from reconciler.core.wirelog import WireLog

TOKEN = "canary-bearer-token-51ab"
PASSWORD = "canary-admin-password-62bc"
API_SECRET = "canary-api-secret-73cd"
SIGNATURE = "canary-query-signature-84de"
CANARIES = (TOKEN, PASSWORD, API_SECRET, SIGNATURE)
VAULT_URL = ("https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
             "?api-version=2026-05-15&$filter=principalId%20eq%20%27p%27&sig=" + SIGNATURE
             + "&access_token=" + TOKEN + "&$skiptoken=page2")


def logged(**exchange: Any) -> tuple[str, dict[str, Any]]:
    stream = io.StringIO()
    log = WireLog()
    log.configure(debug=stream, audit=None)
    log.exchange(plane="arm", status=200, **exchange)
    text = stream.getvalue()
    return text, json.loads(text.removeprefix("cmkctl http "))


def test_secrets_in_headers_query_and_body_never_show_and_the_rest_does() -> None:
    body = {"properties": {"enableRbacAuthorization": True, "initialCassandraAdminPassword": PASSWORD,
                           "tokenLifetime": 5},
            "administrator": {"userName": "admin", "password": PASSWORD},
            "credentials": [{"api_secret": API_SECRET, "client_secret": API_SECRET}]}
    text, entry = logged(method="PUT", url=VAULT_URL, request_body=json.dumps(body),
                         request_headers={"Authorization": f"Bearer {TOKEN}", "X-Api-Key": API_SECRET,
                                          "Cookie": f"session={TOKEN}", "x-ms-client-request-id": "r-1"})
    for canary in CANARIES:
        assert canary not in text
    assert entry["path"].endswith("/vaults/kv")
    assert entry["query"] == ("api-version=2026-05-15&$filter=principalId%20eq%20%27p%27&sig=***&access_token=***"
                              "&$skiptoken=page2")
    sent = json.loads(entry["body"])
    assert (sent["properties"]["enableRbacAuthorization"], sent["properties"]["tokenLifetime"]) == (True, 5)
    assert entry["request"] == {"Authorization": "***", "X-Api-Key": "***", "Cookie": "***",
                                "x-ms-client-request-id": "r-1"}
    assert sent["administrator"] == {"userName": "admin", "password": "***"}


def test_a_request_without_a_query_logs_none_and_a_bare_path_stays_a_path() -> None:
    assert logged(method="GET", url="https://api.astra.datastax.com/v2/kms")[1]["query"] is None
    _, entry = logged(method="POST", url="kms:DescribeKey")
    assert (entry["path"], entry["query"]) == ("kms:DescribeKey", None)


def test_a_password_field_no_list_names_is_redacted_by_its_name() -> None:
    # A new service's password needs no entry in the wire log's list: the name says what it is.
    body = {"properties": {"initialReplicaAdminPassword": PASSWORD, "passwordPolicy": "strong"}}
    text, entry = logged(method="PUT", url="https://management.azure.com/x", request_body=json.dumps(body))
    assert PASSWORD not in text
    assert json.loads(entry["body"])["properties"] == {"initialReplicaAdminPassword": "***", "passwordPolicy": "strong"}
