"""Audit: check a self-consistency claim on a set of questions, end to end."""
