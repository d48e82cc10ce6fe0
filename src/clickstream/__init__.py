"""Clickstream Analytics: the domain code every Lambda task, the CLI and the local runtime call."""

__version__ = "0.1.0"
