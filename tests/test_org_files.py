"""Org files on disk: the shipped example loads, and every broken fixture fails where and why it should."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

import conductor
from conductor.org import Org, OrgFileError, check_org, load_org, org_json_schema, parse_org
from conductor.org.durations import parse_duration

ORGS = Path(__file__).parent / "orgs"
BROKEN = ORGS / "broken"
MINIMAL = ORGS / "minimal.toml"
STUDIO = Path(conductor.__file__).parent / "examples" / "studio.toml"
EXPECTATIONS = tomllib.loads((BROKEN / "EXPECTATIONS.toml").read_text(encoding="utf-8"))
BROKEN_FILES = sorted(p for p in BROKEN.glob("*.toml") if p.name != "EXPECTATIONS.toml")

VENTURE_METRICS = {
    "signups",
    "activation_rate",
    "paying_customers",
    "trial_conversion",
    "mrr",
    "arpu",
    "churn_rate",
    "support_backlog",
}


# --- the example studio ---------------------------------------------------------------------------------


def test_studio_loads_with_three_ventures_and_nineteen_agents() -> None:
    org = load_org(STUDIO)
    assert org.name == "Northwind Studio"
    assert [v.id for v in org.ventures] == ["inkwell", "ledgerly", "tidepool"]
    assert [v.stage for v in org.ventures] == ["growth", "launch", "mvp"]
    assert len(org.agents()) == 18
    assert org.agent_count == 19
    assert org.platform.id == "platform"


def test_studio_every_owned_metric_exists_in_its_venture() -> None:
    org = load_org(STUDIO)
    for venture, agent in org.agents():
        assert venture.metric(agent.owns_metric) is not None, agent.id


def test_studio_ventures_share_one_metric_set_and_team_shape() -> None:
    org = load_org(STUDIO)
    for venture in org.ventures:
        assert {m.name for m in venture.metrics} == VENTURE_METRICS
        assert all(m.initial is not None for m in venture.metrics)
        roles = [a.id.removeprefix(f"{venture.id}-") for a in venture.agents]
        assert roles == ["ceo", "cto", "cmo", "sales", "support", "finance"]
        ceo = f"{venture.id}-ceo"
        for agent in venture.agents:
            assert agent.reports_to == (None if agent.id == ceo else ceo)
            assert all(r.startswith(f"{venture.id}-") for r in agent.reviewers.values())


def test_studio_spend_fits_the_budgets() -> None:
    org = load_org(STUDIO)
    ventures_total = sum(v.budget_per_day or 0 for v in org.ventures)
    assert ventures_total <= org.budget_per_day
    for venture in org.ventures:
        assert sum(a.budget_per_day for a in venture.agents) <= (venture.budget_per_day or 0)


def test_studio_escalation_kinds_are_declared() -> None:
    org = load_org(STUDIO)
    for kind_id in org.escalation.always:
        assert org.kind(kind_id) is not None
    deploy = org.kind("release.deploy")
    assert deploy is not None and deploy.action == "shell" and deploy.command in org.commands


# --- the minimal org and the broken copies of it ----------------------------------------------------------


def test_minimal_loads() -> None:
    org = load_org(MINIMAL)
    assert org.agent_count == 3
    assert [a.id for _, a in org.agents()] == ["solo-ceo", "solo-cto"]


def test_every_broken_file_has_an_expectation() -> None:
    assert len(BROKEN_FILES) >= 12
    assert {p.name for p in BROKEN_FILES} == set(EXPECTATIONS)


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_broken_header_matches_expectations(path: Path) -> None:
    # The first line is ASCII even in not_utf8.toml, so it can be read as bytes and decoded alone.
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    expected = EXPECTATIONS[path.name]
    assert first == f"# expect: {expected['path']} | {expected['reason']}"


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_broken_file_is_rejected_where_and_why(path: Path) -> None:
    expected = EXPECTATIONS[path.name]
    with pytest.raises(OrgFileError) as info:
        load_org(str(path))
    error = info.value
    assert error.exit_code == 2
    prefix = f"{path}: " if expected["path"] == "-" else f"{path}: {expected['path']}: "
    lines = error.lines()
    assert lines
    assert str(error) == lines[0]
    matches = [
        line for line in lines if line.startswith(prefix) and expected["reason"] in line.removeprefix(prefix)
    ]
    assert matches, f"no line starts with {prefix!r} and contains {expected['reason']!r}: {lines}"


def test_file_level_problem_has_no_key_path() -> None:
    with pytest.raises(OrgFileError) as info:
        load_org(BROKEN / "invalid_toml.toml")
    assert [p.path for p in info.value.problems] == [""]
    assert info.value.lines()[0].startswith(f"{BROKEN / 'invalid_toml.toml'}: invalid TOML: ")


# --- durations --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2w", timedelta(weeks=2)),
        ("30m", timedelta(minutes=30)),
        ("1.5h", timedelta(minutes=90)),
        (" 12H ", timedelta(hours=12)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_parse_duration_passes_timedeltas_through() -> None:
    assert parse_duration(timedelta(minutes=5)) == timedelta(minutes=5)


@pytest.mark.parametrize("bad", ["", "4 hours", "4", "h", "-1h", "4x", "1d-2h", "0s", "0h0m", 4, None, 1.5])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_parse_duration_error_says_what_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"invalid duration '4 hours'.*'4h' or '1d'"):
        parse_duration("4 hours")
    with pytest.raises(ValueError, match="longer than zero"):
        parse_duration("0m")


# --- reports-to cycles ------------------------------------------------------------------------------------


def _minimal_with_team(reports_to: dict[str, str | None]) -> dict:
    """The minimal org's data with one agent per key (cloned from its CTO), reporting as given."""
    data = tomllib.loads(MINIMAL.read_text(encoding="utf-8"))
    cto = data["ventures"][0]["agents"][1]
    template = {k: v for k, v in cto.items() if k not in ("reviewers", "reports_to")}
    agents = []
    for agent_id, boss in reports_to.items():
        agent = {**template, "id": agent_id}
        if boss is not None:
            agent["reports_to"] = boss
        agents.append(agent)
    data["ventures"][0]["agents"] = agents
    return data


def test_reports_to_cycle_is_reported_once_from_its_first_member() -> None:
    data = _minimal_with_team({"a": "c", "b": "a", "c": "b"})
    problems = check_org(Org.model_validate(data))
    assert [(p.path, p.reason) for p in problems] == [
        ("ventures[0].agents[0].reports_to", "reports-to cycle: a -> c -> b -> a"),
    ]


def test_reports_to_cycle_reached_through_a_chain_names_only_the_loop() -> None:
    data = _minimal_with_team({"head": None, "x": "y", "y": "z", "z": "y"})
    problems = check_org(Org.model_validate(data))
    assert [(p.path, p.reason) for p in problems] == [
        ("ventures[0].agents[2].reports_to", "reports-to cycle: y -> z -> y"),
    ]


def test_reporting_to_oneself_is_not_called_a_cycle() -> None:
    data = _minimal_with_team({"solo": "solo"})
    problems = check_org(Org.model_validate(data))
    assert [(p.path, p.reason) for p in problems] == [
        ("ventures[0].agents[0].reports_to", "an agent cannot report to itself"),
    ]


def test_parse_org_raises_with_the_cycle_line() -> None:
    data = _minimal_with_team({"a": "b", "b": "a"})
    with pytest.raises(OrgFileError) as info:
        parse_org(data, "team.toml")
    assert info.value.lines() == [
        "team.toml: ventures[0].agents[0].reports_to: reports-to cycle: a -> b -> a",
    ]


def test_a_tree_has_no_cycle() -> None:
    data = _minimal_with_team({"boss": None, "mid": "boss", "leaf": "mid"})
    assert check_org(Org.model_validate(data)) == []


# --- schema -----------------------------------------------------------------------------------------------


def test_org_json_schema_describes_ventures() -> None:
    schema = org_json_schema()
    assert isinstance(schema, dict)
    assert "ventures" in schema["properties"]
    assert "ventures" in schema.get("required", [])
