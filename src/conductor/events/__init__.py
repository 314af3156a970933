"""The event catalogue: one typed payload model, one version and one line of text for every event kind.

The log is the product's source of truth and outlives the code that wrote it, so what each kind holds is
written down once (`conductor.events.<family>`), checked when it is written (`check`, called by the store), and
read the same way by every view (`text`). See docs/architecture.md, "The event catalogue".
"""

from conductor.events.base import EventSpec, Payload, When, as_stored, short
from conductor.events.catalogue import (
    CATALOGUE,
    VERSION_KEY,
    PayloadError,
    check,
    generic_text,
    spec,
    text,
    upgrade,
    validate,
)

__all__ = [
    "CATALOGUE",
    "VERSION_KEY",
    "EventSpec",
    "Payload",
    "PayloadError",
    "When",
    "as_stored",
    "check",
    "generic_text",
    "short",
    "spec",
    "text",
    "upgrade",
    "validate",
]
