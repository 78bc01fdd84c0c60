"""Mongo vCore's part of the manifest's JSON Schema: its registration block (composed by
reconciler.manifest.schema).
"""

# ruff: noqa: E501  (a schema's patterns and descriptions are long strings, kept whole)
from __future__ import annotations

from typing import Any

FRAGMENT: dict[str, Any] = {'registrations': {'azure': {'mongo': {'$ref': '#/$defs/mongoRegistration'}}},
 '$defs': {'mongoRegistration': {'description': 'An Azure Cosmos DB for MongoDB vCore cluster in this '
                                                'region, encrypted with a key declared in this region, read '
                                                'as a user-assigned identity declared in this region.',
                                 'type': 'object',
                                 'additionalProperties': False,
                                 'required': ['cluster', 'resourceGroup', 'identity', 'key'],
                                 'properties': {'cluster': {'type': 'string',
                                                            'minLength': 3,
                                                            'maxLength': 40,
                                                            'pattern': '^[a-z0-9]+(-[a-z0-9]+)*$'},
                                                'resourceGroup': {'$ref': '#/$defs/resourceGroup'},
                                                'identity': {'$ref': '#/$defs/identityName'},
                                                'key': {'type': 'string',
                                                        'description': 'A key declared in this region, by '
                                                                       'name, or its key identifier '
                                                                       '(https://VAULT.vault.azure.net/keys/NAME, '
                                                                       'without a version).'},
                                                'create': {'$ref': '#/$defs/mongoCreate'}}},
           'mongoCreate': {'description': 'What a new cluster is created with; never compared with an '
                                          'existing cluster. Without it, the cluster must already exist.',
                           'type': 'object',
                           'additionalProperties': False,
                           'required': ['administrator', 'compute', 'storage'],
                           'properties': {'administrator': {'type': 'object',
                                                            'additionalProperties': False,
                                                            'required': ['userName'],
                                                            'properties': {'userName': {'description': 'Printable '
                                                                                                       'ASCII, '
                                                                                                       'no '
                                                                                                       'space: '
                                                                                                       'the '
                                                                                                       'mongoClusters '
                                                                                                       'definition '
                                                                                                       'sets '
                                                                                                       'no '
                                                                                                       'rule '
                                                                                                       'of '
                                                                                                       'its '
                                                                                                       'own.',
                                                                                        'type': 'string',
                                                                                        'pattern': '^[\\x21-\\x7e]+$',
                                                                                        'maxLength': 256},
                                                                           'passwordFrom': {'description': 'Where '
                                                                                                           'the '
                                                                                                           'administrator '
                                                                                                           'password '
                                                                                                           'is '
                                                                                                           'read '
                                                                                                           'when '
                                                                                                           'the '
                                                                                                           'cluster '
                                                                                                           'is '
                                                                                                           'created: '
                                                                                                           '{env: '
                                                                                                           'VARIABLE}. '
                                                                                                           'Never '
                                                                                                           'the '
                                                                                                           'password '
                                                                                                           'itself.'},
                                                                           'password': {'description': 'Refused: '
                                                                                                       'a '
                                                                                                       'password '
                                                                                                       'is '
                                                                                                       'never '
                                                                                                       'written '
                                                                                                       'in a '
                                                                                                       'manifest; '
                                                                                                       'use '
                                                                                                       'passwordFrom.'}}},
                                          'compute': {'type': 'object',
                                                      'additionalProperties': False,
                                                      'required': ['tier'],
                                                      'properties': {'tier': {'type': 'string',
                                                                              'pattern': '^M[0-9]+$'}}},
                                          'storage': {'type': 'object',
                                                      'additionalProperties': False,
                                                      'required': ['sizeGb'],
                                                      'properties': {'sizeGb': {'type': 'integer',
                                                                                'minimum': 32}}},
                                          'sharding': {'type': 'object',
                                                       'additionalProperties': False,
                                                       'required': ['shardCount'],
                                                       'properties': {'shardCount': {'type': 'integer',
                                                                                     'minimum': 1}}},
                                          'highAvailability': {'type': 'object',
                                                               'additionalProperties': False,
                                                               'required': ['targetMode'],
                                                               'properties': {'targetMode': {'enum': ['Disabled',
                                                                                                      'SameZone',
                                                                                                      'ZoneRedundantPreferred']}}},
                                          'serverVersion': {'type': 'string',
                                                            'pattern': '^[0-9]+\\.[0-9]+$'}}}}}
