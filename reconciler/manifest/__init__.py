"""Load manifests strictly, validate them, resolve references into a `KeySet`.

Imports core; reaches the system table only lazily, to resolve registrations and run their rules.
"""
