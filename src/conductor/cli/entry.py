"""The console script (`conductor`, `python -m conductor`): the read-only views start without the rest.

`conductor status` from cron or a shell prompt should answer in a fraction of a second, and importing every
command module (the org checks, the doctor, the control commands, their pydantic models) costs more than the
query itself. So the four views of `status_cmds` (status, agents, metrics, spend) run from an app that holds
only them; any other command, `--help` and shell completion get the whole app of `conductor.cli.main`. Both
apps register the same functions, so a view behaves the same either way (a test compares their output).
"""

from __future__ import annotations

import sys
from typing import Any

# The commands `conductor.cli.status_cmds.register` adds: nothing else needs to be imported to run them.
VIEWS = frozenset({"status", "agents", "metrics", "spend"})


def _views_app() -> Any:
    import typer

    from conductor.cli import status_cmds

    app = typer.Typer(name="conductor", add_completion=False, rich_markup_mode="rich", pretty_exceptions_enable=False)

    @app.callback()
    def views() -> None:
        """A terminal control room for an autonomous company of LLM agents."""

    status_cmds.register(app)
    return app


def app_for(args: list[str]) -> Any:
    """The app that can run `args`: the views' own for a view, else the whole one."""
    if args and args[0] in VIEWS:
        return _views_app()
    from conductor.cli.main import app

    return app


def run_app(app: Any) -> None:
    """Run `app` as the console script: usage errors are one `error:` line on stderr with exit code 2, like the
    rest. Click's own handling would draw a multi-line panel; scripts and cron mail want one line that says where.
    """
    from typer import Abort
    from typer._click import exceptions as click_exceptions

    from conductor.text import printable

    try:
        code = app(standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:  # `conductor inbox` alone: show what it offers
        print(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), file=sys.stderr)
        sys.exit(2)
    except click_exceptions.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        message = printable(exc.format_message(), one_line=True)
        print(f"error: {message}{where}", file=sys.stderr)
        sys.exit(2)
    except click_exceptions.ClickException as exc:
        print(f"error: {printable(exc.format_message(), one_line=True)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (Abort, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """Console-script entry point."""
    run_app(app_for(sys.argv[1:]))
