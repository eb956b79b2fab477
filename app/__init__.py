"""Quorum: a desktop reasoning assistant for local GGUF models."""

__version__ = "0.1.0"
