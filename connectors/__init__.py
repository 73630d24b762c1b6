"""Connectors: one folder per platform, each exporting a MANIFEST."""
