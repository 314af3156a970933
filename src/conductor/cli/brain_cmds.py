"""`conductor brain log | show | diff | quality | edit | pin | revert`: the organization's memory, from any shell.

Reads use a read-only connection; the founder's writes (edit, pin, revert) go through `services.brain` as
events a running scheduler picks up. Everything a model wrote passes through `conductor.text.printable` and
is printed as plain rich `Text` (never parsed as markup), so a brain version can never drive the terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel
from rich.text import Text

from conductor.cli.errors import cli_errors
from conductor.cli.shared import (
    DbOption,
    JsonOption,
    cell,
    cell_time,
    console,
    money,
    print_json,
    reading,
    short_time,
    table,
    writing,
)
from conductor.errors import BadInput, ConductorError
from conductor.text import printable

if TYPE_CHECKING:
    from conductor.brain.diff import LessonChange
    from conductor.brain.quality import QualityRow

brain_app = typer.Typer(
    help="The brain: versioned lessons with evidence, diffs between versions, decision quality by version.\n\n"
         "Example: conductor brain log inkwell && conductor brain diff inkwell 2 3",
    no_args_is_help=True,
)

VentureArg = Annotated[str, typer.Argument(help="A venture id (or name), or 'platform' for the platform insights.")]
STYLES = {
    "heading": "bold cyan", "added": "green", "removed": "red", "changed": "yellow", "evidence": "dim",
    "context": "",
}


def _line(text: str, style: str = "") -> Text:
    return Text(printable(text), style=style)


def _show_markdown(markdown: str) -> None:
    """The canonical text with colour: headings, worked lessons green, failed red, evidence dim."""
    out = console()
    section = ""
    for raw in markdown.splitlines():
        if raw.startswith("#"):
            section = raw.lstrip("# ").strip()
            out.print(_line(raw, "bold cyan" if raw.startswith("## ") else "bold"))
        elif raw.startswith("  "):
            out.print(_line(raw, "magenta" if raw.strip().startswith("from ") else "dim"))
        elif raw.startswith("- ") and section in ("What worked", "What failed"):
            out.print(_line(raw, "green" if section == "What worked" else "red"))
        else:
            out.print(_line(raw))


class BrainLog(BaseModel):
    venture: str
    versions: list
    failures: list


@brain_app.command("log")
@cli_errors
def log(venture: VentureArg, db: DbOption = None, json_: JsonOption = False) -> None:
    """List a venture's brain versions, oldest first, and the latest syntheses that failed.

    Example: conductor brain log inkwell --json | jq '.versions[-1].version'
    """
    from conductor.services import brain

    with reading(db) as conn:
        venture = brain.check_venture(conn, venture)
        items = brain.versions(conn, venture)
        failed = brain.failures(conn, venture, limit=5)
    if json_:
        print_json(BrainLog(venture=venture, versions=[v.model_dump(mode="json") for v in items],
                            failures=[f.model_dump(mode="json") for f in failed]))
        return
    out = console()
    if not items:
        out.print(f"{venture}: no brain version yet")
    grid = table("ver", "author", "created", "tokens", "cost", "memories", "lessons", "note",
                 title=f"{venture} brain", right=("ver", "tokens", "cost", "memories", "lessons"))
    for v in items:
        notes = (["pinned"] if v.pinned else []) + ([f"revert of v{v.reverted_from}"] if v.reverted_from else [])
        if v.parent is not None and v.parent != v.version - 1:
            notes.append(f"parent v{v.parent}")
        grid.add_row(str(v.version), v.author, cell_time(v.created), f"{v.tokens:,}", money(v.cost),
                     str(v.memories), f"{v.worked}+{v.failed}", ", ".join(notes))
    if items:
        out.print(grid)
    for f in failed:
        out.print(_line(f"synthesis failed {short_time(f.at)}: {f.reason} (kept the previous version)", "yellow"))


@brain_app.command("show")
@cli_errors
def show(
    venture: VentureArg,
    number: Annotated[int | None, typer.Argument(help="The version (default: the newest).")] = None,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """Print one brain version: strategy, what worked and failed (with evidence), facts, questions, rules.

    Example: conductor brain show inkwell 3
    """
    from conductor.brain.document import render_markdown
    from conductor.services import brain

    with reading(db) as conn:
        record = brain.version(conn, venture, number)
        names = brain.venture_names(conn)
    if json_:
        print_json(record)
        return
    title = f"{names.get(record.venture, record.venture)} brain v{record.version}"
    meta = f"by {record.author}" + (f" ({record.model})" if record.model else "") + f", {short_time(record.created)}"
    if record.reverted_from:
        meta += f", a revert to v{record.reverted_from}"
    if record.pinned:
        meta += ", pinned"
    console().print(_line(meta, "dim"))
    _show_markdown(render_markdown(record.brain(), title=title, names=names))


class BrainDiffJson(BaseModel):
    venture: str
    old: int
    new: int
    added: list
    removed: list
    changed: list
    items: list
    strategy: list | None
    lines: list[str]


@brain_app.command("diff")
@cli_errors
def diff(
    venture: VentureArg,
    old: Annotated[int, typer.Argument(help="The older version.")],
    new: Annotated[int, typer.Argument(help="The newer version.")],
    lines: Annotated[bool, typer.Option("--lines", help="Also print the line-level unified diff.")] = False,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """What changed between two versions: lessons added, removed and changed, with their evidence.

    Example: conductor brain diff inkwell 3 4 --lines
    """
    from conductor.brain.diff import diff_lines, item_diff, unified_diff, unified_tag
    from conductor.services import brain

    with reading(db) as conn:
        a, b = brain.version(conn, venture, old), brain.version(conn, venture, new)
        names = brain.venture_names(conn)
    changes = item_diff(a.brain(), b.brain())
    text_lines = unified_diff(a.brain(), b.brain(), old_label=f"{a.venture} v{a.version}",
                              new_label=f"{b.venture} v{b.version}", names=names)
    if json_:
        def lesson(c: LessonChange) -> dict:
            from dataclasses import asdict

            data = asdict(c)
            return {k: v for k, v in data.items() if k not in ("old", "new")} | {
                "old": c.old.model_dump(mode="json") if c.old else None,
                "new": c.new.model_dump(mode="json") if c.new else None}
        print_json(BrainDiffJson(
            venture=a.venture, old=a.version, new=b.version, added=[lesson(c) for c in changes.added],
            removed=[lesson(c) for c in changes.removed], changed=[lesson(c) for c in changes.changed],
            items=[{"section": i.section, "status": i.status, "text": i.text} for i in changes.items],
            strategy=list(changes.strategy) if changes.strategy else None, lines=text_lines))
        return
    out = console()
    out.print(_line(f"{names.get(a.venture, a.venture)} brain v{a.version} -> v{b.version}: "
                    f"{len(changes.added)} added, {len(changes.removed)} removed, {len(changes.changed)} changed",
                    "bold"))
    for tag, text in diff_lines(changes, names):
        out.print(_line(text, STYLES.get(tag, "")))
    if lines:
        out.print()
        for line in text_lines:
            out.print(_line(line, STYLES.get(unified_tag(line), "")))


@brain_app.command("quality")
@cli_errors
def quality(
    venture: Annotated[str | None, typer.Argument(help="One venture (default: all).")] = None,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """Decision quality per venture and brain version, with counts so you can judge the noise.

    Worked: the decision's effect (its metric against a forecast from its own history, over the decision
    kind's effect window, shared with overlapping decisions) was beyond noise the good way; unclear outcomes
    count as measured, not worked. Effect: the mean effect, + = the good way, with its 95% interval. When a
    share of wake-ups saw a control brief ([brain] control_share), each version is compared with the control
    decisions made while it was in force.

    Example: conductor brain quality inkwell
    """
    from conductor.services import brain
    from conductor.text import QUALITY_COLUMN_LABELS as labels

    with reading(db) as conn:
        if venture is not None:
            venture = brain.check_venture(conn, venture)
        rows = brain.quality(conn, venture)
    if json_:
        print_json(rows)
        return

    def pct(value: float | None, n: int | None = None) -> str:
        if value is None:
            return "-"
        return f"{value:.0%}" + (f" ({n})" if n is not None else "")

    def effect(r: QualityRow) -> str:
        if r.mean_normalized_delta is None:
            return "-"
        mean = f"{r.mean_normalized_delta * 100:+.1f}"
        if r.effect_low is None or r.effect_high is None:
            return mean
        return f"{mean} ±{(r.effect_high - r.effect_low) * 50:.1f}"

    grid = table(*labels.values(), title="Decision quality by brain version (version in force)",
                 right=[labels[k] for k in ("decisions", "escalated", "approved", "measured", "pending", "worked",
                                            "effect")])
    grid.padding = (0, 0)  # nine columns of full words, one space apart, fit 80 columns
    for r in rows:
        grid.add_row(cell(r.venture, 10), f"v{r.brain_version}" if r.brain_version is not None else "none",
                     str(r.decisions), pct(r.escalated_share), pct(r.approval_rate, r.founder_decided),
                     str(r.measured), str(r.pending), pct(r.success_rate), effect(r))
    console().print(grid)
    for r in rows:
        if r.control is not None:
            console().print(_line(f"{r.venture}: {r.control.statement} ({r.control.n_current} vs "
                                  f"{r.control.n_control} measured, control: {r.control.control})"))
    console().print(_line("decisions: proposed; escalated: share sent to the founder; approved (n): approved of n the "
                          "founder decided; measured/pending: effect windows closed / still open; worked: share of "
                          "measured decisions whose effect was beyond noise the good way; effect: mean effect "
                          "against forecast in points, + = the good way, ± its 95% interval", "dim"))


@brain_app.command("edit")
@cli_errors
def edit(
    venture: VentureArg,
    file: Annotated[Path | None, typer.Option("--file", help="Read the new version from this file instead of "
                                                                "opening $EDITOR.")] = None,
    db: DbOption = None,
) -> None:
    """Write a new version by hand: edit the newest version's text in $EDITOR (or pass --file).

    A section the text leaves out keeps the newest version's content; to empty one, keep its heading and
    write (none) under it. Text outside any section is refused with its line number.

    Example: conductor brain edit inkwell   (opens $EDITOR; or pass --file brain.md)
    """
    from conductor.brain.document import BrainDocument, render_markdown
    from conductor.services import brain

    with writing(db) as conn:
        venture = brain.check_venture(conn, venture)
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise BadInput(f"{file}: cannot read ({exc})") from None
        else:
            try:
                current = render_markdown(brain.version(conn, venture).brain())
            except BadInput:
                current = render_markdown(BrainDocument())
            # typer no longer re-exports click's helpers, and its own has no editor: click opens $VISUAL/$EDITOR.
            import click

            try:
                edited = click.edit(current, extension=".md", require_save=True)
            except click.ClickException as exc:  # the editor could not be started, or exited with an error
                raise ConductorError(f"cannot edit: {exc.format_message()}") from None
            if edited is None:
                console().print("no change: the editor was closed without saving")
                return
            text = edited
        event, dropped = brain.edit_version(conn, venture, text)
    if event is None:
        console().print("no change: the text is the same as the newest version")
        return
    note = f" ({dropped} evidence item(s) named unknown decisions and were dropped)" if dropped else ""
    console().print(f"wrote {venture} brain v{event.payload['version']} by the founder{note}")


@brain_app.command("pin")
@cli_errors
def pin(
    venture: VentureArg,
    number: Annotated[int | None, typer.Argument(help="The version to keep in force (default: the newest).")] = None,
    off: Annotated[bool, typer.Option("--off", help="Unpin: synthesis resumes with the newest version.")] = False,
    db: DbOption = None,
) -> None:
    """Pin a version: it stays in force for every wake-up and synthesis pauses for this venture.

    Example: conductor brain pin inkwell 3   (and later: conductor brain pin inkwell --off)
    """
    from conductor.services import brain

    with writing(db) as conn:
        if off:
            if number is not None:
                raise BadInput("--off takes no version")
            brain.unpin(conn, venture)
            console().print(f"unpinned {venture}: synthesis resumes")
            return
        event = brain.pin(conn, venture, number)
    console().print(f"pinned {venture} brain v{event.payload['version']}: synthesis paused for it")


@brain_app.command("revert")
@cli_errors
def revert(
    venture: VentureArg,
    number: Annotated[int, typer.Argument(help="The older version to bring back.")],
    db: DbOption = None,
) -> None:
    """Bring back an older version as a new version (history is never rewritten).

    Example: conductor brain revert inkwell 2
    """
    from conductor.services import brain

    with writing(db) as conn:
        event = brain.revert(conn, venture, number)
    console().print(f"wrote {venture} brain v{event.payload['version']}, equal to v{number}")
