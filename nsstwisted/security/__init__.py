"""The external security manager (filled in as modules land)."""
