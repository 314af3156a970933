"""The organization as data: what an `orgs/*.toml` file declares, as pydantic models.

Field-level rules (types, ranges, patterns, unknown keys) live on the models; rules that relate one part of
the file to another (an agent owning a metric its venture does not have, a reviewer in another venture, a
cycle in reports-to) live in `org.checks`, so each problem can be reported with its own key path.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PrivateAttr, WithJsonSchema

from conductor.org.durations import DURATION_PATTERN, format_duration, parse_duration

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["4h", "1d", "30m"]}),
]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
KindId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=64)]
Money = Annotated[float, Field(ge=0)]
# A name or role is shown in tables and prompts: long enough for any real one, short enough to fit a line.
MAX_NAME_CHARS = 200
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]

ToolPolicy = Literal["allowed", "ask", "off"]
# "server.tool": the server's id, then the tool's name as its server spells it (MCP names allow A-Z, 0-9, _ - .).
ToolRef = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[A-Za-z0-9_.-]{1,128}$", max_length=200)]
ASK_KIND_PREFIX = "tool."
MAX_TOOL_SERVER_ID = 24

Stage = Literal["idea", "mvp", "launch", "growth", "scale"]
STAGES: tuple[Stage, ...] = ("idea", "mvp", "launch", "growth", "scale")
DEFAULT_SIM_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in an org file must never be silently ignored; nor is inf or nan a number."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ParamSpec(_Strict):
    """One parameter of a decision kind; amending an escalated decision is validated against these."""

    type: Literal["number", "integer", "string", "boolean"] = "string"
    description: str = ""
    required: bool = True
    min: float | None = None
    max: float | None = None
    choices: list[str] | None = None


class DecisionKind(_Strict):
    """A kind of decision the organization knows, and what carries it out once it may execute."""

    id: KindId
    description: str
    action: Literal["sim", "record", "shell", "tool"] = "record"
    command: str | None = Field(None, description="Name of a declared [commands] entry, for action = 'shell'.")
    tool: ToolRef | None = Field(None, description="'SERVER.TOOL' of a declared [[tools]] server, for action = "
                                 "'tool': the decision's params are the tool's arguments.")
    lever: str | None = Field(None, description="What this kind moves in the simulated market (action = 'sim').")
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    spend_param: str | None = Field(None, description="The parameter holding money this decision spends.")
    effect_window: Duration | None = Field(
        None, description="How long after executing its effect is measured (default: [brain] outcome_window).")
    max_in_window: int | None = Field(
        None, ge=1,
        description="At most this many decisions of this kind acting at once in one venture: executed and still "
                    "inside their effect window, or on their way (in review, revising, with the founder). More are "
                    "refused in code. Decisions of one kind that overlap cannot be told apart when measured, so a "
                    "lever tried one option at a time teaches what each option does (default: no limit).")


class ToolServer(_Strict):
    """An MCP server whose tools agents may use: a command speaking MCP on stdin/stdout, a streamable-HTTP URL,
    or a server built into conductor (`builtin = "market"`: the simulated market's analytics).

    Only declared servers ever run, and a tool runs only under its policy: `allowed` (an agent calls it while it
    thinks), `ask` (a call becomes a decision for the founder's inbox and runs once approved) or `off`.
    Secrets reach a server only through the environment variables `env` names: their values are read when the
    server starts and never stored.
    """

    # Short enough that `tool.SERVER.NAME` (an ask tool's decision kind) fits a kind id's 64 characters.
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_TOOL_SERVER_ID)]
    description: str = ""
    command: list[str] | None = Field(None, min_length=1, description="argv of a stdio MCP server.")
    env: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]] = Field(
        default_factory=list, description="Names of environment variables passed to the command's process.")
    url: str | None = Field(None, pattern=r"^https?://\S+$", max_length=2000,
                            description="A streamable-HTTP MCP endpoint.")
    builtin: Literal["market"] | None = Field(None, description="A server conductor provides itself.")
    policy: ToolPolicy = Field("allowed", description="The policy of every tool of the server not in `policies`.")
    policies: dict[Annotated[str, Field(max_length=128)], ToolPolicy] = Field(
        default_factory=dict, description="Per-tool policy, by the tool's name.")

    def policy_of(self, tool: str) -> ToolPolicy:
        return self.policies.get(tool, self.policy)


def ask_kind_id(server: str, tool: str) -> str:
    """The decision kind an `ask` tool's call becomes: `tool.SERVER.NAME`, NAME the tool's own name where it is
    already in the kinds' alphabet and short enough, else its lowered prefix and a checksum of the whole name,
    so that two tools never share a kind (`refund_payment_annual` and `..._monthly` cut short would)."""
    name = re.sub(r"[^a-z0-9_]", "_", tool.lower()).strip("_") or "tool"
    if not name[0].isalpha():
        name = "t" + name
    room = 64 - len(ASK_KIND_PREFIX) - len(server) - 1
    if name != tool or len(name) > room:
        name = f"{name[: max(1, room - 9)].rstrip('_')}_{zlib.crc32(tool.encode()):08x}"
    return f"{ASK_KIND_PREFIX}{server}.{name}"


class ShellCommand(_Strict):
    """A command the org file allows to run; model output can only pick among these, never write one."""

    argv: list[str] = Field(min_length=1)
    timeout: Duration = timedelta(seconds=60)
    description: str = ""


class EscalationPolicy(_Strict):
    """What needs the founder. Read by a pure function in the engine; model output can never change it."""

    always: list[KindId] = Field(default_factory=list, description="Kinds that always need the founder.")
    spend_threshold: Money = Field(500.0, description="A decision spending more than this needs the founder.")
    confidence_floor: float = Field(0.5, ge=0, le=1)
    expiry: Duration = timedelta(days=2)
    on_expiry: Literal["reject", "approve"] = "reject"
    trust_after: int = Field(3, ge=1, description="Approvals in a row, unamended, before autonomy is proposed.")
    trust_spend_limit: Money = Field(200.0, description="Upper bound on spend an earned autonomy may cover.")
    on_repeat: Literal["allow", "review", "escalate", "drop"] = Field(
        "allow", description="A decision identical (kind and parameters) to one its venture executed within "
        "repeat_window: allowed, reviewed (by the kind's reviewer, else the founder), escalated, or dropped.")
    repeat_window: Duration = Field(timedelta(days=3), description="How far back an identical decision counts.")


NotifyOn = Literal["urgent_escalation", "agent_stuck", "budget_exhausted"]


class NotifySettings(_Strict):
    """Reaching the founder outside the terminal: what happened, gathered into one message per burst, as a
    JSON POST to a webhook and/or on the standard input of a command. Messages carry the product's one-line
    words for each event, passed through the redaction every stored string gets: never a credential.

    A webhook URL that holds a token (Slack, Discord) is itself a secret: name the environment variable that
    holds it (`webhook_env`) rather than writing it here, since the org file is recorded in the event log.
    """

    webhook: str | None = Field(None, pattern=r"^https?://\S+$", max_length=2000,
                                description="An http(s) URL that receives a JSON POST per burst.")
    webhook_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128,
                                    description="The environment variable holding the webhook URL.")
    command: list[str] | None = Field(None, min_length=1, description="argv run per burst, the JSON on stdin.")
    on: list[NotifyOn] = Field(default_factory=lambda: list(get_args(NotifyOn)),
                               description="What is worth a message (all three by default).")
    min_urgency: int = Field(2, ge=1, le=3, description="The least urgency of an escalation worth a message.")
    batch: Duration = Field(timedelta(seconds=30), description="Real time a burst is gathered for before sending.")
    timeout: Duration = Field(timedelta(seconds=10), description="Longest a delivery may take.")
    desktop: bool = Field(True, description="With the control room open: a desktop notification (notify-send) "
                                           "for each urgent escalation, beside the terminal bell.")

    @property
    def enabled(self) -> bool:
        return bool(self.webhook or self.webhook_env or self.command)


class EngineSettings(_Strict):
    """How the scheduler runs the org: concurrency, retries, review rounds, loop guards."""

    concurrency: int = Field(8, ge=1, le=1024)
    max_review_rounds: int = Field(2, ge=1, le=10)
    max_retries: int = Field(3, ge=0, le=10, description="Retries per call for provider faults or bad output.")
    call_timeout: Duration = timedelta(seconds=120)
    tool_calls_per_wake: int = Field(4, ge=0, le=64, description="Tool calls one wake-up may make at most.")
    tool_result_chars: int = Field(4000, ge=200, le=200_000, description="A tool result is cut to this length.")
    tool_timeout: Duration = Field(timedelta(seconds=15), description="Longest one tool call may take.")
    tool_time_per_wake: Duration = Field(timedelta(seconds=60),
                                         description="Longest all tool calls of one wake-up may take together.")
    wake_cap_per_hour: int = Field(6, ge=1, description="Wake-ups one agent may have in one hour at most.")
    stream: bool = Field(False, description="Stream model answers, cutting a stream that stalls (see stream_idle).")
    stream_idle: Duration = Field(timedelta(seconds=30), description="Longest silence between streamed chunks.")
    model_workers: int = Field(0, ge=0, le=64, description=(
        "Worker processes that make the model calls (0: in the engine's process). For many calls in flight to an "
        "HTTP provider on more than one core; the simulator is always called in the engine's process."))
    synchronous: Literal["normal", "full"] = Field(
        "normal", description="What a commit survives. normal: the process dying (WAL frames the kernel still "
                              "writes out), not a power loss, which may drop commits since the last checkpoint; "
                              "full: a power loss too (an fsync per commit, off the event loop, slower).")


class BrainSettings(_Strict):
    """How the brain synthesizes and briefs: thresholds and budgets read by `conductor.brain`."""

    synthesis_threshold: int = Field(24, ge=1, description="New memories that trigger a synthesis.")
    context_tokens: int = Field(1800, ge=200, description="Default token budget for a wake-up brief.")
    outcome_window: Duration = Field(
        timedelta(days=14), description="Default effect window of a decision kind (see decision_kinds.effect_window).")
    platform_every: Duration = timedelta(days=7)
    synthesis_budget_per_day: Money = 5.0
    synthesis_every: Duration = Field(
        timedelta(days=7), description="Synthesize anyway after this long, if there is anything new at all."
    )
    synthesis_max_memories: int = Field(150, ge=1, description="New memories one synthesis reads at most.")
    recency_half_life: Duration = Field(timedelta(days=3), description="Memories lose half their weight this fast.")
    retrieval_k: int = Field(12, ge=0, le=100, description="Memories retrieved for one wake-up at most.")
    model: str | None = Field(None, min_length=1, description="Model for syntheses (default: the org's model).")
    control_share: float = Field(
        0.0, ge=0, le=1, description="Share of wake-ups shown the control brief instead of the version in force.")
    control: Literal["previous", "none"] = Field(
        "previous", description="The control brief: an older brain version's (control_lag versions back), or none.")
    control_lag: int = Field(
        1, ge=1, le=1000, description="How many versions back the previous arm looks: 1 shows the version just "
        "before the one in force (a day or two older in a busy org, so nearly the same brief); more compares the "
        "version in force with an older one, which can show whether the brain got better.")


class ModelPrice(_Strict):
    """A nominal price for a model litellm has no price for (such as the simulator), in USD."""

    input_per_mtok: Money
    output_per_mtok: Money
    cached_input_per_mtok: Money | None = Field(
        None, description="Input tokens the provider read from its prompt cache (default: the input price).")


class ModelSettings(_Strict):
    """How to reach one model string (`[models."openai/qwen2.5"]`): a local server or a second provider account.

    The key is named, never written: `api_key_env` is the environment variable that holds it, read at each call
    and never stored or logged. Settings here win over litellm's environment variables for this model only."""

    api_base: str | None = Field(None, pattern=r"^https?://\S+$", max_length=MAX_NAME_CHARS * 4,
                                 description="The server's base URL, e.g. http://127.0.0.1:8080/v1.")
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128,
                                    description="The environment variable that holds the key (its name only).")
    max_output_tokens: int | None = Field(None, ge=16, le=200_000)
    temperature: float | None = Field(None, ge=0, le=2)
    timeout: Duration | None = Field(None, description="Longest one call may take (default: [engine] call_timeout).")
    structured_output: Literal["auto", "json_schema", "json_object", "off"] = Field(
        "auto", description="How to ask for the answer's JSON: 'json_schema' sends each agent's own schema (its "
        "kinds, their params, types, choices and ranges; no length limits, so grammar-constrained local servers "
        "take it), 'json_object' asks for any JSON object, 'off' asks for nothing, 'auto' sends the schema where "
        "litellm says the model takes one.")


class MetricSource(_Strict):
    """Where a metric's value comes from by itself: a command or a URL, read on a schedule by the running engine.

    Exactly one of `command`, `url` and `tool` (`org.checks` says so with the metric's name). A reading that fails or
    looks absurd (outside `min`/`max`, or a jump beyond `max_jump`) is refused and shown, never recorded: a
    broken export must not teach the agents that revenue fell to zero.
    """

    command: list[str] | None = Field(
        None, min_length=1, description="argv run at each reading; it prints the value (or JSON holding it) on "
        "standard output. A relative program path is found as for [commands]: from the directory conductor runs in.")
    url: str | None = Field(None, pattern=r"^https?://\S+$", max_length=2000,
                            description="An http(s) URL answering JSON (or a bare number). A password in it is "
                                        "sent as basic auth and never stored or logged.")
    tool: ToolRef | None = Field(None, description="'SERVER.TOOL' of a declared [[tools]] server whose policy is "
                                 "'allowed': called with `args` at each reading.")
    args: dict[str, str | int | float | bool] = Field(default_factory=dict, description="The tool's arguments.")
    path: str | None = Field(None, max_length=MAX_NAME_CHARS,
                             description="Dot path to the number in the JSON answer, e.g. data.items.0.count "
                                         "(a negative index counts from the end); absent: the whole answer is the number.")
    every: Duration = Field(timedelta(days=1), description="How often it is read, on the run's clock (simulated or real).")
    timeout: Duration = Field(timedelta(seconds=10), description="Longest one reading may take; a command is killed then.")
    min: float | None = Field(None, description="A reading below this is refused.")
    max: float | None = Field(None, description="A reading above this is refused.")
    max_jump: float | None = Field(
        None, gt=0, description="Largest relative change from the metric's last recorded value (0.5: ±50 %); a "
                                "larger jump is refused as a likely broken reading.")

    @property
    def kind(self) -> Literal["command", "http", "tool"]:
        """How `metric.recorded` and `metric.refused` name this source."""
        return "command" if self.command else "tool" if self.tool else "http"


class Metric(_Strict):
    """A number a venture tracks, and which way is good."""

    name: Identifier
    unit: str = Field(max_length=MAX_NAME_CHARS)
    direction: Literal["up", "down"]
    description: str = ""
    initial: float | None = Field(None, description="Starting value, where the venture already has history.")
    stock: bool = Field(False, description="A level that accumulates (customers, MRR): a decision shows in how "
                        "fast it changes, so attribution judges decisions by its daily change.")
    source: MetricSource | None = Field(
        None, description="Read the value on a schedule from a command or a URL; the simulated market then "
                          "leaves this metric to it.")


class Agent(_Strict):
    """One member of a venture: a role, a mission and the one metric it answers for."""

    id: Identifier
    role: Name
    mission: str = Field(min_length=1)
    owns_metric: Identifier
    heartbeat: Duration
    budget_per_day: Money
    decision_kinds: list[KindId] = Field(default_factory=list)
    reviewers: dict[str, Identifier] = Field(
        default_factory=dict, description="Decision kind -> id of the agent who reviews it."
    )
    reports_to: Identifier | None = Field(None, description="Agent id in the same venture; none means the founder.")
    model: str | None = Field(None, min_length=1)
    context_tokens: int | None = Field(None, ge=200)
    tools: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_.-]{1,128})?$", max_length=200)]] = Field(
        default_factory=list, description="Tool servers ('crm') or single tools ('crm.lookup') it may use.")


class PlatformAgent(_Strict):
    """The one agent that sees every venture and distils what holds across them."""

    id: Identifier = "platform"
    role: Name = "Platform analyst"
    mission: str = Field(min_length=1)
    heartbeat: Duration = timedelta(days=7)
    budget_per_day: Money = 2.0
    model: str | None = Field(None, min_length=1)


class Venture(_Strict):
    """One business in the studio, with its own market, metrics and team."""

    id: Identifier
    name: Name
    stage: Stage
    goal: str = Field(min_length=1)
    seed: int | None = None
    budget_per_day: Money | None = None
    metrics: list[Metric] = Field(min_length=1)
    agents: list[Agent] = Field(min_length=1)

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)


def ask_kind(server: str, tool: str) -> DecisionKind:
    """The decision a call of an `ask` tool becomes: its arguments are the params, the founder decides. `tool` is
    the tool's name, or, for a kind found by its id alone (a server-wide `ask`), the name part of the id: the
    engine then finds the tool whose `ask_kind_id` is this kind's."""
    return DecisionKind(id=ask_kind_id(server, tool), action="tool", tool=f"{server}.{tool}",
                        description=f"call {server}'s tool {tool} (its policy asks the founder first)")


class Org(_Strict):
    """A whole organization: the file is the source of truth, and editing it reshapes the company."""

    _agent_index: tuple[list[Venture], dict[str, tuple[Venture, Agent]]] | None = PrivateAttr(default=None)

    name: Name
    description: str = ""
    model: str = Field("sim/standard", min_length=1, description="Default litellm model string.")
    clock: Literal["real", "sim"] = "sim"
    start: datetime = Field(DEFAULT_SIM_START, description="Where the simulated clock starts.")
    seed: int = 0
    budget_per_day: Money
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    engine: EngineSettings = EngineSettings()
    brain: BrainSettings = BrainSettings()
    escalation: EscalationPolicy = EscalationPolicy()
    notify: NotifySettings = NotifySettings()
    decision_kinds: list[DecisionKind] = Field(min_length=1)
    commands: dict[str, ShellCommand] = Field(default_factory=dict)
    tools: list[ToolServer] = Field(default_factory=list)
    platform: PlatformAgent
    ventures: list[Venture] = Field(min_length=1)

    # Lookups used everywhere; kept as methods so the model stays a plain, frozen description of the file.
    def kind(self, kind_id: str) -> DecisionKind | None:
        """A declared kind, or the kind an `ask` tool's call becomes (`tool.SERVER.NAME`, see `ask_kind`)."""
        found = next((k for k in self.decision_kinds if k.id == kind_id), None)
        if found is None and kind_id.startswith(ASK_KIND_PREFIX):
            named = self.ask_kinds().get(kind_id)
            if named is not None:
                return named
            server_id, _, name = kind_id.removeprefix(ASK_KIND_PREFIX).partition(".")
            server = self.tool_server(server_id)
            if server is not None and name and server.policy == "ask":
                return ask_kind(server_id, name)
        return found

    def tool_policy(self, ref: str) -> ToolPolicy | None:
        """The policy of 'server.tool', or None when no such server is declared."""
        server_id, _, name = ref.partition(".")
        server = self.tool_server(server_id)
        return server.policy_of(name) if server is not None else None

    def tool_server(self, server_id: str) -> ToolServer | None:
        return next((t for t in self.tools if t.id == server_id), None)

    def ask_kinds(self) -> dict[str, DecisionKind]:
        """The decision kinds of the tools declared `ask` by name (a server-wide `ask` is resolved per call)."""
        return {ask_kind_id(t.id, name): ask_kind(t.id, name) for t in self.tools
                for name, policy in sorted(t.policies.items()) if policy == "ask"}

    def tools_of(self, agent_id: str) -> list[str]:
        """The tool references ('server' or 'server.tool') an agent may use; the platform agent has none."""
        found = self.agent(agent_id)
        return list(found[1].tools) if found else []

    def effect_window_days(self, kind_id: str) -> int:
        """Whole days over which a decision of this kind is judged: its own window, else the brain's default."""
        kind = self.kind(kind_id)
        window = (kind.effect_window if kind is not None else None) or self.brain.outcome_window
        return max(1, int(window / timedelta(days=1)))

    def venture(self, venture_id: str) -> Venture | None:
        return next((v for v in self.ventures if v.id == venture_id), None)

    def agents(self) -> list[tuple[Venture, Agent]]:
        return [(v, a) for v in self.ventures for a in v.agents]

    def agent(self, agent_id: str) -> tuple[Venture, Agent] | None:
        """The agent and its venture, from an index built once per list of ventures (the engine asks often)."""
        index = self._agent_index
        if index is None or index[0] is not self.ventures:  # a copy with other ventures gets its own index
            index = (self.ventures, {a.id: (v, a) for v in self.ventures for a in v.agents})
            self._agent_index = index
        return index[1].get(agent_id)

    def venture_seed(self, venture: Venture) -> int:
        """The venture's own seed, or one derived stably from the org seed and the venture id."""
        if venture.seed is not None:
            return venture.seed
        return (self.seed * 1_000_003 + zlib.crc32(venture.id.encode())) & 0x7FFFFFFF

    def market_seeds(self) -> dict[str, int]:
        """Each venture's market seed: what a resumed run must keep to replay the markets its log describes."""
        return {v.id: self.venture_seed(v) for v in self.ventures}

    def reseeded(self, seed: int) -> Org:
        """This org under another seed: the org seed and every venture's market seed derive from `seed`.

        Used by `--seed` to rehearse the same org against other draws of the simulated market.
        """
        derived = self.model_copy(update={"seed": seed})
        ventures = [v.model_copy(update={"seed": derived.venture_seed(v.model_copy(update={"seed": None}))})
                    for v in self.ventures]
        return derived.model_copy(update={"ventures": ventures})

    def model_for(self, agent: Agent | PlatformAgent) -> str:
        return agent.model or self.model

    @property
    def agent_count(self) -> int:
        return sum(len(v.agents) for v in self.ventures) + 1
