"""Ozé's domain: campaigns, identity, storage, errors and settings (no chalice here)."""
