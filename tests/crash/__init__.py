"""The crash harness: `python -m tests.crash --trials 20 --seed 1` from the repository root.

It runs `conductor run` on a copy of the studio org in child processes, kills them with SIGKILL at seeded
random moments, restarts them until the run finishes, and checks after every kill and at the end that nothing
acknowledged was lost and nothing ran twice (see `checks.py`). `tests/test_crash_harness.py` runs it in CI.
"""
