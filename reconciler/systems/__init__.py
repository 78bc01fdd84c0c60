"""The plug-ins cmkctl sets up, in one explicit table (no discovery).

Only the front end and the use cases' composition root import this table; they hand it down to the
manifest loader and the engine, which iterate over what they are given and name no plug-in.
"""

from __future__ import annotations

from reconciler.plugins.table import PluginTable
from reconciler.systems.access_policies import AccessPolicies
from reconciler.systems.astra import Astra
from reconciler.systems.aws_kms import AwsKms
from reconciler.systems.azure_ad import AzureAd
from reconciler.systems.cassandra import Cassandra
from reconciler.systems.confluent import Confluent
from reconciler.systems.confluent_aws import ConfluentAws
from reconciler.systems.identities import Identities
from reconciler.systems.mongo import Mongo

PLUGINS = PluginTable((AzureAd(), Astra(), AwsKms(), Confluent(), ConfluentAws(), AccessPolicies(), Cassandra(),
                       Identities(), Mongo()))
