"""The organization file: schema, loading and cross-reference checks."""

from conductor.org.checks import Problem, check_org
from conductor.org.loader import OrgFileError, load_org, org_json_schema, parse_org
from conductor.org.models import Agent, DecisionKind, EscalationPolicy, Metric, Org, PlatformAgent, Venture

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
