"""One module per control plane. Cloud SDKs are imported here only, and lazily."""
