"""Reusable typed constructs: every pipeline is built from these."""
