"""abm: an agent-based simulator of data leverage."""

__version__ = "0.1.0"
