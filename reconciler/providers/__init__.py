"""One module per control plane. Cloud SDKs are imported here only, and lazily.

Imports core; never the manifest, the systems or the engine (which reaches them through `base`).
"""
