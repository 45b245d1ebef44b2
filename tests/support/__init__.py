"""Test-only servers and helpers (never imported by the product)."""
