"""The locations where the emulated subscription offers Key Vault, as ARM names them.

The emulator's own list (it shares no table with cmkctl): the public cloud's physical regions, as
the Key Vault provider lists them in its refusals (Azure/azure-sdk-for-net#23760 quotes one), with
the regions opened since. A vault PUT elsewhere is refused as ARM refuses it.
"""

from __future__ import annotations

KEY_VAULT_LOCATIONS = (
    "northcentralus", "eastus", "northeurope", "westeurope", "eastasia", "southeastasia", "eastus2", "centralus",
    "southcentralus", "westus", "japaneast", "japanwest", "australiaeast", "australiasoutheast", "brazilsouth",
    "centralindia", "southindia", "westindia", "canadacentral", "canadaeast", "uksouth", "ukwest", "westcentralus",
    "westus2", "koreacentral", "koreasouth", "francecentral", "francesouth", "australiacentral", "australiacentral2",
    "uaenorth", "uaecentral", "southafricanorth", "southafricawest", "switzerlandnorth", "switzerlandwest",
    "germanywestcentral", "germanynorth", "norwayeast", "norwaywest", "westus3", "jioindiawest", "jioindiacentral",
    "swedencentral", "swedensouth", "brazilsoutheast", "qatarcentral", "polandcentral", "italynorth",
    "israelcentral", "spaincentral", "mexicocentral", "newzealandnorth", "austriaeast", "belgiumcentral",
    "chilecentral", "indonesiacentral", "malaysiawest", "centraluseuap", "eastus2euap",
)


def unavailable(location: str, resource_type: str) -> str | None:
    """ARM's message when `location` is not one the resource type is offered in; None when it is."""
    if location.replace(" ", "").lower() in KEY_VAULT_LOCATIONS:
        return None
    return (f"The provided location '{location}' is not available for resource type '{resource_type}'. "
            f"List of available regions for the resource type is '{','.join(KEY_VAULT_LOCATIONS)}'.")
