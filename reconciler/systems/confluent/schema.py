"""Confluent's part of the manifest's JSON Schema: its environment under `accounts:`, its registration
block and the principal of the application it returns (composed by reconciler.manifest.schema).
"""

from __future__ import annotations

from typing import Any

FRAGMENT: dict[str, Any] = {'accounts': {'confluent': {'$ref': '#/$defs/confluentAccount'}},
 'registrations': {'azure': {'confluent': {'$ref': '#/$defs/confluentRegistration'}}},
 'principals': {'azure': {'confluent': {'$ref': '#/$defs/confluentPrincipal'}}},
 '$defs': {'confluentAccount': {'description': 'The Confluent Cloud environment Dedicated clusters are '
                                               'created in. Credentials come from CONFLUENT_CLOUD_API_KEY '
                                               'and CONFLUENT_CLOUD_API_SECRET.',
                                'type': 'object',
                                'additionalProperties': False,
                                'required': ['environmentId'],
                                'properties': {'environmentId': {'type': 'string',
                                                                 'pattern': '^env-[A-Za-z0-9]{1,32}$'}}},
           'confluentPrincipal': {'description': 'The service principal of the application Confluent returns '
                                                 'when this key (declared in the same region) is registered.',
                                  '$ref': '#/$defs/name'},
           'confluentRegistration': {'description': 'An Azure key registered with Confluent Cloud (a BYOK '
                                                    'key), and optionally a Dedicated Kafka cluster '
                                                    'encrypted with it.',
                                     'type': 'object',
                                     'additionalProperties': False,
                                     'required': ['key'],
                                     'properties': {'key': {'type': 'string',
                                                            'description': 'A key declared in this region, '
                                                                           'by name, or its key identifier '
                                                                           '(https://VAULT.vault.azure.net/keys/NAME, '
                                                                           'without a version).'},
                                                    'cluster': {'$ref': '#/$defs/confluentCluster'}}},
           'confluentCluster': {'description': 'A Dedicated Kafka cluster in this region, created in the '
                                               'Self-managed encryption mode with the registered key. The '
                                               'key and the mode are fixed at creation.',
                                'type': 'object',
                                'additionalProperties': False,
                                'required': ['name'],
                                'properties': {'name': {'description': "The cluster's display name; cmkctl "
                                                                       'finds the cluster by it in the '
                                                                       'environment.',
                                                        'type': 'string',
                                                        'pattern': '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'},
                                               'availability': {'enum': ['SINGLE_ZONE', 'MULTI_ZONE'],
                                                                'default': 'MULTI_ZONE'},
                                               'cku': {'type': 'integer',
                                                       'minimum': 1,
                                                       'maximum': 152,
                                                       'default': 2},
                                               'network': {'type': 'string',
                                                           'description': 'A Confluent network ID (n-...) '
                                                                          'for private networking; public '
                                                                          'networking when absent.',
                                                           'pattern': '^n-[A-Za-z0-9]{1,32}$'}}}}}
