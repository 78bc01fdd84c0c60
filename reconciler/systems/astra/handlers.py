"""Astra's handlers for a run: one client of the DevOps API, its token from the run's Connection."""

from __future__ import annotations

from reconciler.providers.https import require_https
from reconciler.providers.plumbing import PlaneHandlers, Plumbing, plane_http

# The DevOps API's own address; CMKCTL_ASTRA_ENDPOINT (or the emulator) names another.
ENDPOINT = "https://api.astra.datastax.com"


def build(plumbing: Plumbing) -> PlaneHandlers:
    from reconciler.providers.astra import AstraClient, ProviderAccountsHandler, RegistrationHandler

    connection = plumbing.connection
    url = connection.endpoints.plane("astra", ENDPOINT)
    require_https(url, plane="astra")  # refuse a plain-http endpoint before anything runs
    http = plane_http(connection, "astra", url)
    client = AstraClient(http.get, connection.credential("astra_token"))
    organization = plumbing.accounts.of("astra", "organizationId")
    return PlaneHandlers(
        by_kind={"astra_provider_accounts": ProviderAccountsHandler(client),
                 "astra_registration": RegistrationHandler(client, organization_id=organization)},
        clients={"astra": client}, checks={"astra": client.check_credentials}, caches=[client.lists],
        closers=[http.close],
        listings={"astra_provider_ids": client.provider_ids, "astra_registrations": client.registrations})
