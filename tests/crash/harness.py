"""Kill `conductor run` at random moments, restart it, and check that nothing was lost or done twice.

A trial is one run that is killed with SIGKILL. Trials come in chains: a chain copies a base database (the
studio after its first simulated day, built once), then starts `conductor run --days N` again and again on
it, each start resuming what the previous one left and being killed in turn, and finally lets a last run
finish. While runs are alive (and between them) the harness plays the founder from its own connection,
approving or rejecting pending escalations, as a second process would.

Kill moments are drawn from a seeded generator, by strategy:
- events: once the log has grown by a random number of events;
- delay: a random time after the process started (startup and recovery included);
- shell: while a declared command is running (it has recorded its side effect, the result is not yet
  committed), the moment where a careless engine would run it again on restart;
- founder: a few milliseconds after the founder's verdict is committed, before the engine reacted.

Children are forked from this process after conductor and litellm are imported (a fresh interpreter spends
~3.5 s importing litellm), each in its own session so the kill takes its command children too; `--exec`
starts a fresh `python -m tests.crash --child ...` instead, which is slower and otherwise the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import checks

ROOT = Path(__file__).resolve().parents[2]
STUDIO = ROOT / "src" / "conductor" / "examples" / "studio.toml"
POLL_S = 0.005
RUN_DEADLINE_S = 60.0
COMMAND_SLEEP_S = 0.1
STRATEGIES = ("events", "events", "delay", "shell", "founder")


@dataclass
class Config:
    trials: int = 20
    seed: int = 1
    workdir: Path = Path("/tmp/conductor-crash")
    chain_length: int = 5
    base_days: float = 1.0
    chain_days: float = 5.0
    exec_mode: bool = False
    idempotency: bool = True
    strategies: tuple[str, ...] = STRATEGIES
    verbose: bool = False
    shell_wait_s: float = 3.0  # how long a "shell" trial waits for a command before it kills on events instead
    command_sleep_s: float = COMMAND_SLEEP_S  # how long the deploy command takes after recording its run


@dataclass
class Report:
    kills: int = 0
    runs: int = 0
    chains: int = 0
    strategies: Counter[str] = field(default_factory=Counter)
    founder_verdicts: Counter[str] = field(default_factory=Counter)
    acks_checked: int = 0
    events: int = 0
    decisions_executed: int = 0
    commands_run: int = 0
    commands_in_doubt: int = 0
    escalations_pending_at_kills: int = 0
    brain_versions: int = 0
    wakes_interrupted: int = 0
    wakes_redone: int = 0
    seconds: float = 0.0
    violations: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        s = ", ".join(f"{k} {v}" for k, v in sorted(self.strategies.items()))
        f = ", ".join(f"{k} {v}" for k, v in sorted(self.founder_verdicts.items())) or "none"
        return [
            f"kills {self.kills} in {self.chains} chains ({s}); runs started {self.runs}",
            f"events {self.events}; acknowledged events checked {self.acks_checked}",
            f"decisions executed {self.decisions_executed}; declared commands run {self.commands_run}, "
            f"interrupted mid-command {self.commands_in_doubt}",
            f"founder verdicts {f}; escalations pending at a kill {self.escalations_pending_at_kills}; "
            f"brain versions {self.brain_versions}",
            f"wake-ups interrupted {self.wakes_interrupted}, done again {self.wakes_redone}",
            f"violations {len(self.violations)}; {self.seconds:.1f} s",
            *[f"VIOLATION {v}" for v in self.violations],
        ]


COMMANDS_ENV = "CONDUCTOR_CRASH_COMMANDS"


def harness_org(workdir: Path, command_sleep_s: float = COMMAND_SLEEP_S) -> Path:
    """The studio with a deploy command that records each run, CTOs that deploy often, and frequent syntheses.

    The command appends its standard input (the decision as JSON) to the file named by $CONDUCTOR_CRASH_COMMANDS,
    one file per chain, then takes a moment before it answers: the window a kill must hit.
    """
    text = STUDIO.read_text()
    recorder = f'cat >> "${COMMANDS_ENV}"; echo >> "${COMMANDS_ENV}"; sleep {command_sleep_s}; echo deployed'
    text = text.replace('argv = ["sh", "-c", "cat > /dev/null; echo deployed"]',
                        f"argv = {json.dumps(['sh', '-c', recorder])}")
    text = text.replace('decision_kinds = [\n    "feature.ship", "onboarding.improve", "reliability.fix", "release.deploy", '
                        '"dependency.add", "security.change",\n]',
                        'decision_kinds = ["release.deploy", "feature.ship", "reliability.fix"]')
    # Syntheses every simulated day or two instead of weekly, so kills also land on brain versions being written.
    text = text.replace("synthesis_threshold = 60", "synthesis_threshold = 20").replace(
        'platform_every = "7d"', 'platform_every = "2d"')
    assert "synthesis_threshold = 20" in text, "the studio file changed shape"
    assert COMMANDS_ENV in text and 'decision_kinds = ["release.deploy"' in text, "the studio file changed shape"
    org = workdir / "org.toml"
    org.write_text(text)
    return org


# -- child processes -----------------------------------------------------------------------------------------
class Child:
    """One `conductor run` process, forked from here or executed fresh, in its own session."""

    def __init__(self, cfg: Config, org: Path, db: Path, days: float, ack_log: Path, out: Path,
                 commands: Path) -> None:
        self.started = time.monotonic()
        self.code: int | None = None
        if cfg.exec_mode:
            with out.open("wb") as fh:
                self.proc: subprocess.Popen | None = subprocess.Popen(
                    [sys.executable, "-m", "tests.crash", "--child", str(org), str(db), str(days), str(ack_log),
                     "1" if cfg.idempotency else "0"],
                    cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                    env={**os.environ, COMMANDS_ENV: str(commands)},
                )
            self.pid = self.proc.pid
            return
        self.proc = None
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 70
            try:
                os.setsid()
                os.environ[COMMANDS_ENV] = str(commands)
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                from .child import run_conductor

                code = run_conductor(org, db, days, ack_log, cfg.idempotency)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.pid = pid

    def poll(self) -> int | None:
        if self.code is not None:
            return self.code
        if self.proc is not None:
            self.code = self.proc.poll()
            return self.code
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.wait(10)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                os.killpg(self.pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(POLL_S)
        assert self.code is not None
        return self.code


# -- small database helpers (every connection is closed before the next fork) -------------------------------
def max_id(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def command_in_flight(db: Path, side_effects: Path, baseline: Counter[int]) -> bool:
    """A declared command has recorded a run (since `baseline`) and its result is not committed yet."""
    ran = {d for d, n in checks.read_side_effects(side_effects).items() if n > baseline.get(d, 0)}
    if not ran:
        return False
    conn = checks.connect(db)
    try:
        done = {r[0] for r in conn.execute("SELECT json_extract(payload, '$.decision_id') FROM events "
                                           "WHERE kind = 'decision.executed'")}
    finally:
        conn.close()
    return bool(ran - done)


def act_as_founder(db: Path, org_model: object, rng: random.Random, verdicts: list[dict], report: Report) -> bool:
    """Approve (mostly) or reject one pending escalation from this process, as `conductor inbox` would."""
    from conductor.errors import BadInput
    from conductor.services.founder import resolve_escalation
    from conductor.store import open_database

    conn = open_database(db)
    try:
        rows = conn.execute("SELECT id, kind, decision_id FROM escalations WHERE state = 'pending' "
                            "AND kind IN ('decision', 'trust_proposal', 'agent_stuck') ORDER BY id").fetchall()
        if not rows:
            return False
        row = rng.choice(rows)
        verdict = "approved" if rng.random() < 0.7 else "rejected"
        try:
            event = resolve_escalation(conn, row["id"], verdict, note="harness founder", org=org_model)  # type: ignore[arg-type]
        except BadInput:  # resolved by the policy in between: the command is refused, nothing is written
            return False
        verdicts.append({"event_id": event.id, "escalation_id": row["id"], "verdict": verdict, "kind": row["kind"],
                         "decision_id": row["decision_id"]})
        report.founder_verdicts[verdict] += 1
        return True
    finally:
        conn.close()


# -- one chain -----------------------------------------------------------------------------------------------
@dataclass
class Chain:
    cfg: Config
    index: int
    org: Path
    org_model: object
    side_effects: Path
    db: Path
    days: float
    rng: random.Random
    report: Report
    acks: list[tuple[int, str]] = field(default_factory=list)
    verdicts: list[dict] = field(default_factory=list)
    pending_at_kills: set[int] = field(default_factory=set)
    runs: int = 0

    def spawn(self) -> tuple[Child, Path, Path]:
        self.runs += 1
        self.report.runs += 1
        ack = self.db.with_name(f"acks-{self.index}-{self.runs}.log")
        out = self.db.with_name(f"out-{self.index}-{self.runs}.txt")
        return Child(self.cfg, self.org, self.db, self.days, ack, out, self.side_effects), ack, out

    def trial(self, before: checks.Snapshot) -> tuple[bool, checks.Snapshot]:
        """One run, killed at a drawn moment unless it finishes first; returns (killed, snapshot after)."""
        strategy = self.rng.choice(self.cfg.strategies)
        start = before.max_id
        target = start + self.rng.randint(1, 250)
        delay = self.rng.uniform(0.0, 0.8)
        founder_at = start + self.rng.randint(1, 200) if (strategy == "founder" or self.rng.random() < 0.4) else None
        kill_at: float | None = None
        baseline = checks.read_side_effects(self.side_effects)
        child, ack, out = self.spawn()
        killed = False
        while True:
            if child.poll() is not None:
                break
            elapsed = time.monotonic() - child.started
            current = max_id(self.db)
            if founder_at is not None and current >= founder_at:
                founder_at = None
                if act_as_founder(self.db, self.org_model, self.rng, self.verdicts, self.report) \
                        and strategy == "founder":
                    kill_at = time.monotonic() + self.rng.uniform(0.0, 0.03)
            if strategy == "founder" and founder_at is None and kill_at is None:
                strategy, target = "events", current + self.rng.randint(1, 60)  # nothing to resolve
            if strategy == "shell" and elapsed > self.cfg.shell_wait_s:
                strategy, target = "events", current + self.rng.randint(1, 60)  # no command ran in time
            due = (
                (strategy == "events" and current >= target)
                or (strategy == "delay" and elapsed >= delay)
                or (strategy == "shell" and command_in_flight(self.db, self.side_effects, baseline))
                or (kill_at is not None and time.monotonic() >= kill_at)
                or elapsed > RUN_DEADLINE_S
            )
            if due:
                if elapsed > RUN_DEADLINE_S:
                    self.report.violations.append(f"chain {self.index} run {self.runs}: no progress in "
                                                  f"{RUN_DEADLINE_S:.0f} s; killed")
                child.kill()
                killed = child.code == -signal.SIGKILL
                break
            time.sleep(POLL_S)
        ran_for = time.monotonic() - child.started
        if not killed:
            self._finished(child, out)
        else:
            self.report.strategies[strategy] += 1
        checked = time.monotonic()
        self.acks += checks.read_acks(ack)
        conn = checks.connect(self.db)
        try:
            problems = checks.check_after_kill(conn, self.acks, before)
            after = checks.snapshot(conn)
        finally:
            conn.close()
        self.report.violations += [f"chain {self.index} run {self.runs}: {p}" for p in problems]
        if self.cfg.verbose:
            print(f"chain {self.index} run {self.runs}: {'killed' if killed else 'finished'} ({strategy}) after "
                  f"{ran_for:.2f} s at event #{after.max_id} (+{after.max_id - start}); checked in "
                  f"{time.monotonic() - checked:.2f} s", flush=True)
        if killed:
            self.pending_at_kills |= after.pending_escalations
            if self.rng.random() < 0.3:  # the founder answers while nothing runs: the next run must act on it
                act_as_founder(self.db, self.org_model, self.rng, self.verdicts, self.report)
                conn = checks.connect(self.db)
                try:
                    after = checks.snapshot(conn)
                finally:
                    conn.close()
        return killed, after

    def _finished(self, child: Child, out: Path) -> None:
        text = out.read_text(errors="replace")
        if child.code != 0 or "Traceback" in text:
            tail = " | ".join(text.strip().splitlines()[-3:])[:400]
            self.report.violations.append(f"chain {self.index} run {self.runs}: exit {child.code}: {tail}")

    def finish(self) -> None:
        conn = checks.connect(self.db)
        try:
            problems = checks.check_final(conn, org=self.org_model, side_effects=checks.read_side_effects(
                self.side_effects), pending_at_kills=self.pending_at_kills, verdicts=self.verdicts)  # type: ignore[arg-type]
            self.report.events += conn.execute("SELECT count(*) FROM events").fetchone()[0]
            self.report.decisions_executed += conn.execute(
                "SELECT count(*) FROM events WHERE kind = 'decision.executed'").fetchone()[0]
            self.report.commands_in_doubt += conn.execute(
                "SELECT count(*) FROM events WHERE kind = 'decision.executed' "
                "AND json_extract(payload, '$.result.error') LIKE 'interrupted%'").fetchone()[0]
            self.report.brain_versions += conn.execute("SELECT count(*) FROM brain_versions").fetchone()[0]
            self.report.wakes_interrupted += conn.execute(
                "SELECT count(*) FROM events WHERE kind = 'agent.interrupted'").fetchone()[0]
            self.report.wakes_redone += conn.execute(
                "SELECT count(*) FROM events WHERE kind = 'agent.woke' AND json_extract(payload, '$.redoes') "
                "IS NOT NULL").fetchone()[0]
        finally:
            conn.close()
        self.report.violations += [f"chain {self.index} final: {p}" for p in problems]
        self.report.acks_checked += len(self.acks)
        self.report.commands_run += sum(checks.read_side_effects(self.side_effects).values())
        self.report.escalations_pending_at_kills += len(self.pending_at_kills)


def warm_up(org_model: object) -> None:
    """Import conductor and litellm and make one simulated call here, so every forked run starts warm.

    litellm's first call initialises lazily (~0.5 s); done once before forking, it costs the children nothing.
    No thread is left running afterwards (forking a threaded process would be unsafe).
    """
    import asyncio
    import threading

    import conductor.cli.main
    import conductor.cli.run_cmd
    import conductor.engine.scheduler  # noqa: F401
    from conductor.engine.provider import call_model

    asyncio.run(call_model("sim/standard", [{"role": "user", "content": "warm up"}], org=org_model))  # type: ignore[arg-type]
    assert threading.active_count() == 1, "a thread survived the warm-up; forking would be unsafe"


def founder_answered_after_the_last_run(db: Path) -> bool:
    """Whether the log ends with founder commands written after its last run stopped (nothing acted on them)."""
    conn = checks.connect(db)
    try:
        stopped = conn.execute("SELECT max(id) FROM events WHERE kind = 'run.stopped'").fetchone()[0] or 0
        later = conn.execute("SELECT count(*) FROM events WHERE id > ? AND json_extract(payload, '$.by') = 'founder'",
                             (stopped,)).fetchone()[0]
    finally:
        conn.close()
    return bool(later)


def copy_db(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def run_harness(cfg: Config) -> Report:
    """Run `cfg.trials` kills in chains; every violation found is in the report (none means nothing lost)."""
    started = time.monotonic()
    report = Report()
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    for stale in cfg.workdir.iterdir():
        if stale.is_file():
            stale.unlink()
    org = harness_org(cfg.workdir, cfg.command_sleep_s)
    from conductor.org import load_org

    org_model = load_org(org)
    if not cfg.exec_mode:
        warm_up(org_model)
    base = cfg.workdir / "base.db"
    base_commands = cfg.workdir / "commands-base.jsonl"
    base_commands.touch()
    child = Child(cfg, org, base, cfg.base_days, cfg.workdir / "acks-base.log", cfg.workdir / "out-base.txt",
                  base_commands)
    if child.wait(RUN_DEADLINE_S * 2) != 0:
        report.violations.append(f"the base run failed: {(cfg.workdir / 'out-base.txt').read_text()[-500:]}")
        return report
    index = 0
    while report.kills < cfg.trials:
        index += 1
        report.chains += 1
        db = cfg.workdir / f"chain-{index}.db"
        copy_db(base, db)
        side_effects = cfg.workdir / f"commands-{index}.jsonl"
        side_effects.write_bytes(base_commands.read_bytes())
        chain = Chain(cfg, index, org, org_model, side_effects, db, cfg.base_days + cfg.chain_days,
                      random.Random(f"{cfg.seed}:{index}"), report)
        conn = checks.connect(db)
        try:
            before = checks.snapshot(conn)
        finally:
            conn.close()
        killed = True
        kills = 0
        while killed and kills < cfg.chain_length and report.kills < cfg.trials:
            killed, before = chain.trial(before)
            if killed:
                kills += 1
                report.kills += 1
        # The last run of a chain is left to finish; so is one more when the founder's answer landed just after a
        # run had finished on its own (the founder acts while runs go on, and a run may end first).
        if killed or founder_answered_after_the_last_run(db):
            child, ack, out = chain.spawn()
            child.wait(RUN_DEADLINE_S * 2)
            chain._finished(child, out)
            chain.acks += checks.read_acks(ack)
        chain.finish()
        if index > cfg.trials * 3:
            report.violations.append("runs kept finishing before they could be killed; lengthen chain_days")
            break
    report.seconds = time.monotonic() - started
    return report
