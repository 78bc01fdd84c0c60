"""Confluent on AWS KMS: its part of the manifest's JSON Schema, the `confluent` block of an AWS region
(composed by reconciler.manifest.schema). The environment is the Azure plug-in's `accounts.confluent`.
"""

from __future__ import annotations

from typing import Any

FRAGMENT: dict[str, Any] = {
    'registrations': {'aws': {'confluent': {'$ref': '#/$defs/confluentAwsRegistration'}}},
    '$defs': {'confluentAwsRegistration': {
        'description': 'An AWS KMS key registered with Confluent Cloud (a BYOK key), and optionally the '
                       'Dedicated Kafka cluster encrypted with it. cmkctl merges the statement that lets '
                       "Confluent's roles use the key into its key policy.",
        'type': 'object',
        'additionalProperties': False,
        'required': ['key'],
        'properties': {'key': {'type': 'string',
                               'description': 'The alias of a KMS key declared in this region (alias/NAME); '
                                              'cmkctl registers its ARN.'},
                       'cluster': {'$ref': '#/$defs/confluentCluster'}}}},
}
