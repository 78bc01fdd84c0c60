"""Load manifests strictly, validate them, resolve references into a `KeySet`."""
