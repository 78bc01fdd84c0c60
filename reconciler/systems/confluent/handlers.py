"""Confluent's handlers for a run: one client of Confluent Cloud, its API key from the run's Connection."""

from __future__ import annotations

from reconciler.providers.https import require_https
from reconciler.providers.plumbing import PlaneHandlers, Plumbing, plane_http

# Confluent Cloud's API; CMKCTL_CONFLUENT_ENDPOINT (or the emulator) names another.
ENDPOINT = "https://api.confluent.cloud"


def build(plumbing: Plumbing) -> PlaneHandlers:
    from reconciler.providers.confluent import (
        ByokKeyHandler,
        ClusterHandler,
        ConfluentClient,
        byok_keys_listed,
        clusters_listed,
    )

    connection = plumbing.connection
    url = connection.endpoints.plane("confluent", ENDPOINT)
    require_https(url, plane="confluent")  # refuse a plain-http endpoint before anything runs
    http = plane_http(connection, "confluent", url)
    client = ConfluentClient(http.get, connection.credential("confluent_api_key"),
                             connection.credential("confluent_api_secret"))
    return PlaneHandlers(
        by_kind={"confluent_byok_key": ByokKeyHandler(client), "confluent_cluster": ClusterHandler(client)},
        clients={"confluent": client}, checks={"confluent": client.check_credentials}, caches=[client.lists],
        closers=[http.close],
        listings={"confluent_keys": lambda: byok_keys_listed(client),
                  "confluent_clusters": lambda environment: clusters_listed(client, environment)})
