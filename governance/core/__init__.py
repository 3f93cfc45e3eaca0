"""Shared kernel: base models, errors, the permission helper and realtime publishing."""
