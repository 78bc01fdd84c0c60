"""Astra's part of the manifest's JSON Schema: its account, its registration block on Azure and on AWS,
and its principal kinds (composed into schemas/manifest.v1.json by reconciler.manifest.schema).
"""

# ruff: noqa: E501  (a schema's patterns and descriptions are long strings, kept whole)
from __future__ import annotations

from typing import Any

FRAGMENT: dict[str, Any] = {'accounts': {'astra': {'type': 'object',
                        'additionalProperties': False,
                        'required': ['organizationId'],
                        'properties': {'organizationId': {'$ref': '#/$defs/guid'}}}},
 'registrations': {'azure': {'astra': {'type': 'object',
                                       'additionalProperties': False,
                                       'required': ['product', 'key'],
                                       'properties': {'product': {'enum': ['serverless', 'managed-clusters']},
                                                      'key': {'type': 'string',
                                                              'description': 'A key declared in this region, '
                                                                             'by name, or its key identifier '
                                                                             '(https://VAULT.vault.azure.net/keys/NAME, '
                                                                             'without a version).'}}}},
                   'aws': {'astra': {'type': 'object',
                                     'additionalProperties': False,
                                     'required': ['product', 'key'],
                                     'properties': {'product': {'enum': ['serverless', 'managed-clusters']},
                                                    'key': {'type': 'string',
                                                            'description': 'The alias of a KMS key declared '
                                                                           'in this region (alias/NAME); '
                                                                           'cmkctl registers its ARN.'}}}}},
 'principals': {'azure': {'astra': {'enum': ['serverless', 'managed-clusters']}},
                'aws': {'astra': {'description': 'arn:aws:iam::PROVIDER_ID:role/creator for each provider ID '
                                                 'Astra lists for the region.',
                                  'enum': ['serverless', 'managed-clusters']}}}}
