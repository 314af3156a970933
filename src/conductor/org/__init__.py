"""The organization file: schema, loading and cross-reference checks.

Names are imported on first use (PEP 562), so a module that needs one small part of the package (a duration
parser, a timestamp format) does not pay for the rest at start-up: `conductor status` imports only what it reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conductor.lazy import lazy_exports

if TYPE_CHECKING:
    from conductor.org.checks import Problem, check_org
    from conductor.org.loader import OrgFileError, load_org, org_json_schema, parse_org
    from conductor.org.models import Agent, DecisionKind, EscalationPolicy, Metric, Org, PlatformAgent, Venture

_WHERE = {
    "Problem": "conductor.org.checks",
    "check_org": "conductor.org.checks",
    "OrgFileError": "conductor.org.loader",
    "load_org": "conductor.org.loader",
    "org_json_schema": "conductor.org.loader",
    "parse_org": "conductor.org.loader",
    "Agent": "conductor.org.models",
    "DecisionKind": "conductor.org.models",
    "EscalationPolicy": "conductor.org.models",
    "Metric": "conductor.org.models",
    "Org": "conductor.org.models",
    "PlatformAgent": "conductor.org.models",
    "Venture": "conductor.org.models",
}

__all__ = [
    "Agent",
    "DecisionKind",
    "EscalationPolicy",
    "Metric",
    "Org",
    "OrgFileError",
    "PlatformAgent",
    "Problem",
    "Venture",
    "check_org",
    "load_org",
    "org_json_schema",
    "parse_org",
]


__getattr__ = lazy_exports(__name__, _WHERE)
