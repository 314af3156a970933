"""Conductor: a terminal control room for an autonomous company of LLM agents."""

import logging

__version__ = "0.1.0"

# A library configures no logging of its own: the commands that run the engine (`conductor.cli.logs`) send
# these records to a file. Without a handler here, Python's last-resort handler would print warnings to
# stderr, over the control room's screen or into a script's output.
logging.getLogger(__name__).addHandler(logging.NullHandler())
