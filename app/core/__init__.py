"""Quorum's core: pure Python, never imports Qt, shared by the GUI, the CLI and the tests."""
