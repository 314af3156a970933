"""`python -m tests.crash --trials 20 --seed 1`: the crash harness on its own (exit 1 if anything was lost)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .child import main as child_main
from .harness import STRATEGIES, Config, run_harness


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m tests.crash", description=__doc__)
    parser.add_argument("--trials", type=int, default=20, help="how many runs to kill (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill plan (default 1)")
    parser.add_argument("--chain", type=int, default=5, help="kills per chain before a run may finish")
    parser.add_argument("--days", type=float, default=5.0, help="simulated days each chain runs after the base")
    parser.add_argument("--exec", action="store_true", help="start each run as a fresh interpreter (slower)")
    parser.add_argument("--no-idempotency", action="store_true",
                        help="test the test: switch the engine's at-most-once protection off")
    parser.add_argument("--strategies", default=",".join(sorted(set(STRATEGIES))),
                        help="kill strategies to draw from, comma-separated (events, delay, shell, founder)")
    parser.add_argument("--verbose", action="store_true", help="one line per run")
    parser.add_argument("--workdir", type=Path, help="keep databases and logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="conductor-crash-"))
    cfg = Config(trials=args.trials, seed=args.seed, workdir=workdir, chain_length=args.chain,
                 chain_days=args.days, exec_mode=args.exec, idempotency=not args.no_idempotency, verbose=args.verbose,
                 strategies=tuple(args.strategies.split(",")))
    report = run_harness(cfg)
    for line in report.lines():
        print(line)
    print(f"workdir {workdir}")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
