"""The Audit window: check a self-consistency claim on a question set."""
