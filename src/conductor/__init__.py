"""Conductor: a terminal control room for an autonomous company of LLM agents."""

__version__ = "0.1.0"
