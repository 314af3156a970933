"""`python -m conductor` is the same as the `conductor` console script."""

from conductor.cli.entry import run

if __name__ == "__main__":
    run()
