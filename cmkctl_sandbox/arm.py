"""The Azure Resource Manager plane: route table and the checks every ARM request passes."""

from __future__ import annotations

from cmkctl_sandbox import access_policies, cassandra, keys, mongo, msi, operations, rbac, vaults
from cmkctl_sandbox.arm_common import api_version, arm_error
from cmkctl_sandbox.routes import Route, dispatch, route
from cmkctl_sandbox.wire import Refusal, Reply, Request, State

_GROUP = r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
_VAULTS = _GROUP + r"/providers/Microsoft\.KeyVault/vaults"
_VAULT = _VAULTS + r"/(?P<vault>[^/]+)"
_KEY = _VAULT + r"/keys/(?P<key>[^/]+)"
_ASSIGNMENTS = r"^(?P<scope>/.+?)/providers/Microsoft\.Authorization/roleAssignments"

ROUTES: tuple[Route, ...] = (
    route(_ASSIGNMENTS, {"GET": rbac.list_assignments}),
    route(
        _ASSIGNMENTS + r"/(?P<name>[^/]+)",
        {"GET": rbac.get_assignment, "PUT": rbac.put_assignment, "DELETE": rbac.delete_assignment},
    ),
    route(_VAULTS, {"GET": vaults.list_vaults}),
    route(r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.KeyVault/vaults",
          {"GET": vaults.list_subscription_vaults}),
    route(r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.KeyVault/deletedVaults",
          {"GET": vaults.list_deleted_vaults}),
    route(r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.KeyVault/locations/(?P<location>[^/]+)/"
          r"deletedVaults/(?P<vault>[^/]+)", {"GET": vaults.get_deleted_vault}),
    route(
        _VAULT,
        {
            "GET": vaults.get_vault,
            "PUT": vaults.put_vault,
            "PATCH": vaults.patch_vault,
            "DELETE": vaults.delete_vault,
        },
    ),
    route(_VAULT + r"/keys", {"GET": keys.list_keys}),
    route(_KEY, {"GET": keys.get_key, "PUT": keys.put_key}),
    route(_KEY + r"/versions", {"GET": keys.list_versions}),
    route(_KEY + r"/versions/(?P<version>[^/]+)", {"GET": keys.get_version}),
    *access_policies.ROUTES,
    *cassandra.ROUTES,
    *msi.ROUTES,
    *mongo.ROUTES,
)


def unauthorized(request: Request) -> Reply:
    return arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")


def _not_found(request: Request) -> Reply:
    return arm_error(404, "InvalidResourceType", f"The sandbox does not emulate '{request.path}'.")


def _not_allowed(request: Request) -> Reply:
    return arm_error(405, "MethodNotAllowed", f"The method '{request.method}' is not supported on '{request.path}'.")


def handle(request: Request, state: State) -> Reply:
    if not api_version(request):
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    # Operations whose time has come end before anything reads or writes what they changed.
    advanced = operations.complete_due(state)
    try:
        reply = dispatch(ROUTES, request, state, not_found=_not_found, not_allowed=_not_allowed)
    except Refusal as refusal:
        reply = refusal.reply
    reply.advanced = reply.advanced or advanced
    return reply
