"""Cassandra MI's part of the manifest's JSON Schema: its registration block and the principal of a
cluster's identity (composed by reconciler.manifest.schema).
"""

# ruff: noqa: E501  (a schema's patterns and descriptions are long strings, kept whole)
from __future__ import annotations

from typing import Any

FRAGMENT: dict[str, Any] = {'registrations': {'azure': {'cassandra': {'$ref': '#/$defs/cassandraRegistration'}}},
 'principals': {'azure': {'cassandraCluster': {'$ref': '#/$defs/cassandraClusterName'}}},
 '$defs': {'cassandraClusterName': {'type': 'string', 'pattern': '^[a-z][a-z0-9-]{2,99}$'},
           'cassandraRegistration': {'description': 'An Azure Managed Instance for Apache Cassandra cluster '
                                                    '(with a system-assigned identity) and its data centers, '
                                                    'whose disks and backups are encrypted with versioned '
                                                    'URIs of keys declared in this region.',
                                     'type': 'object',
                                     'additionalProperties': False,
                                     'required': ['cluster',
                                                  'resourceGroup',
                                                  'delegatedManagementSubnetId',
                                                  'key',
                                                  'dataCenters'],
                                     'properties': {'cluster': {'$ref': '#/$defs/cassandraClusterName'},
                                                    'resourceGroup': {'$ref': '#/$defs/resourceGroup'},
                                                    'location': {'type': 'string',
                                                                 'pattern': '^[A-Za-z0-9][A-Za-z0-9 '
                                                                            '-]{0,63}$',
                                                                 'description': "The cluster's Azure "
                                                                                'location; default: the '
                                                                                "region's name."},
                                                    'delegatedManagementSubnetId': {'$ref': '#/$defs/subnetId'},
                                                    'cassandraVersion': {'type': 'string',
                                                                         'pattern': '^[0-9]+(\\.[0-9]+)*$'},
                                                    'initialAdminPasswordFrom': {'description': 'Where the '
                                                                                                'initial '
                                                                                                'Cassandra '
                                                                                                'admin '
                                                                                                'password is '
                                                                                                'read when '
                                                                                                'the cluster '
                                                                                                'is created: '
                                                                                                '{env: '
                                                                                                'VARIABLE}. '
                                                                                                'Never the '
                                                                                                'password '
                                                                                                'itself.'},
                                                    'initialAdminPassword': {'description': 'Refused: a '
                                                                                            'password is '
                                                                                            'never written '
                                                                                            'in a manifest; '
                                                                                            'use '
                                                                                            'initialAdminPasswordFrom.'},
                                                    'key': {'type': 'string',
                                                            'description': 'The managed-disk key: a key '
                                                                           'declared in this region, by '
                                                                           'name, or its versionless key '
                                                                           'identifier.'},
                                                    'backupKey': {'type': 'string',
                                                                  'description': 'The backup-storage key; '
                                                                                 'default: the same key.'},
                                                    'dataCenters': {'type': 'array',
                                                                    'minItems': 1,
                                                                    'items': {'$ref': '#/$defs/cassandraDataCenter'}}}},
           'cassandraDataCenter': {'type': 'object',
                                   'additionalProperties': False,
                                   'required': ['name', 'nodeCount', 'delegatedSubnetId'],
                                   'properties': {'name': {'type': 'string',
                                                           'pattern': '^[A-Za-z][A-Za-z0-9-]{0,59}$'},
                                                  'nodeCount': {'type': 'integer', 'minimum': 3},
                                                  'sku': {'type': 'string',
                                                          'pattern': '^[A-Za-z0-9_]{1,64}$',
                                                          'description': 'VM size of the nodes, e.g. '
                                                                         "Standard_DS14_v2 (Azure's "
                                                                         'default).'},
                                                  'delegatedSubnetId': {'$ref': '#/$defs/subnetId'},
                                                  'location': {'type': 'string',
                                                               'pattern': '^[A-Za-z0-9][A-Za-z0-9 -]{0,63}$',
                                                               'description': "Default: the region's name; "
                                                                              'must be that region (the keys '
                                                                              'are there).'},
                                                  'keyVersion': {'type': 'string',
                                                                 'pattern': '^(latest|[0-9a-fA-F]{32})$',
                                                                 'default': 'latest',
                                                                 'description': "latest: follow the key's "
                                                                                'current version (a new '
                                                                                'version means a data-center '
                                                                                'update); or a version to '
                                                                                'pin.'},
                                                  'backupKeyVersion': {'type': 'string',
                                                                       'pattern': '^(latest|[0-9a-fA-F]{32})$',
                                                                       'description': 'Default: keyVersion '
                                                                                      'when the backup key '
                                                                                      'is the disk key, else '
                                                                                      'latest.'}}},
           'subnetId': {'title': "a subnet's resource ID: "
                                 '/subscriptions/GUID/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET, '
                                 "where RG is 1-90 letters, digits, '_', '-', '.', '(' or ')' not ending in "
                                 "'.', VNET 2-64 and SUBNET 1-80 letters, digits, '_', '.' or '-', each "
                                 "starting with a letter or digit and ending with one or '_'",
                        'type': 'string',
                        'pattern': '^(?!.*\\n)/subscriptions/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/resource[Gg]roups/[-\\w.()]{0,89}[-\\w()]/providers/[Mm]icrosoft\\.[Nn]etwork/virtual[Nn]etworks/[A-Za-z0-9][A-Za-z0-9_.-]{0,62}[A-Za-z0-9_]/subnets/[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$'}}}
