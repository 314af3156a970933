"""Pane 4, Metrics: each venture's metrics as sparklines over the org clock, spend today against each agent's
budget, and decision quality by the brain version in force when the decisions were taken.

Rows are keyed (venture/metric, agent, venture/version) and updated in place on each poll that brought new
metric points or calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Sparkline

from conductor.org.models import Org
from conductor.text import QUALITY_COLUMN_LABELS
from conductor.text import compact_number as number
from conductor.tui.data import MetricSeries, MetricsView, QualityRow
from conductor.tui.format import bar, money

if TYPE_CHECKING:
    from conductor.services.queries import ModelUse

# The decision-quality columns the pane shows, named as `conductor brain quality` names them.
QUALITY_COLUMNS = ("venture", "brain", "decisions", "escalated", "approved", "worked", "effect")


def _change(series: MetricSeries) -> Text:
    """The latest value and its move since the first point, coloured by whether that move is good."""
    if not series.values:
        return Text("no data", style="dim")
    latest, first = series.values[-1], series.values[0]
    text = Text(f"{number(latest):>6}")
    delta = latest - first
    if first and abs(delta) > 1e-12:
        good = (delta > 0) == (series.direction == "up")
        text.append(f" {'▲' if delta > 0 else '▼'}{abs(delta) / abs(first):.0%}", "green" if good else "red")
    return text


class VentureMetrics(Vertical):
    def __init__(self, venture_id: str, name: str, series: list[str]) -> None:
        super().__init__(id=f"metrics-{venture_id}", classes="venture-metrics")
        self.venture_id = venture_id
        self.border_title = name
        self._series = series
        self._data: dict[str, tuple[float, ...]] = {}

    def compose(self) -> ComposeResult:
        for metric in self._series:
            with Horizontal(classes="metric-row"):
                yield Label(Text(f"{metric}", no_wrap=True, overflow="ellipsis"), classes="metric-name")
                yield Sparkline([], id=f"spark-{self.venture_id}-{metric}", classes="metric-spark")
                yield Label("", id=f"value-{self.venture_id}-{metric}", classes="metric-value")

    def set_series(self, series: list[MetricSeries]) -> None:
        for s in series:
            if self._data.get(s.metric) == s.values:
                continue
            self._data[s.metric] = s.values
            self.query_one(f"#spark-{self.venture_id}-{s.metric}", Sparkline).data = list(s.values)
            self.query_one(f"#value-{self.venture_id}-{s.metric}", Label).update(_change(s))


def cache_line(use: ModelUse) -> str:
    """The spend table's footnote: how much of all prompt input the provider's cache served, and the saving."""
    if not use.cached_tokens:
        return "no cached input reported by the provider"
    return f"{use.cache_share:.0%} of input from the provider's cache, saved {money(use.cache_saved)}"


class MetricsPane(VerticalScroll):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    def __init__(self, org: Org, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.org = org
        self.border_title = "Metrics"
        self._quality_keys: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="metrics-ventures"):
            for venture in self.org.ventures:
                yield VentureMetrics(venture.id, venture.name, [m.name for m in venture.metrics])
        with Horizontal(id="metrics-tables"):
            spend: DataTable[str | Text] = DataTable(id="spend-table", cursor_type="row", zebra_stripes=True)
            spend.border_title = "Spend today against budget"
            for label, key in (("agent", "agent"), ("today", "spent"), ("budget", "budget"), ("", "bar"),
                               ("calls", "calls"), ("yesterday", "yesterday")):
                spend.add_column(label, key=key)
            for _venture, agent in self.org.agents():
                spend.add_row(agent.id, "$0", money(agent.budget_per_day), bar(0, 10), "0", "$0", key=agent.id)
            platform = self.org.platform
            spend.add_row(platform.id, "$0", money(platform.budget_per_day), bar(0, 10), "0", "$0", key=platform.id)
            yield spend
            quality: DataTable[str] = DataTable(id="quality-table", cursor_type="row", zebra_stripes=True)
            quality.border_title = "Decision quality by brain version"
            for key in QUALITY_COLUMNS:
                quality.add_column(QUALITY_COLUMN_LABELS[key], key=key)
            yield quality

    def focus_primary(self) -> None:
        self.focus()

    def set_view(self, view: MetricsView) -> None:
        by_venture: dict[str, list[MetricSeries]] = {}
        for s in view.series:
            by_venture.setdefault(s.venture, []).append(s)
        for widget in self.query(VentureMetrics):
            widget.set_series(by_venture.get(widget.venture_id, []))
        spend = self.query_one("#spend-table", DataTable)
        for row in view.spend:
            fraction = row.spent / row.budget if row.budget else 0.0
            cells = {"spent": money(row.spent), "bar": Text(bar(fraction, 10), style="red" if fraction >= 0.9 else ""),
                     "calls": str(row.calls), "yesterday": money(row.yesterday)}
            for key, value in cells.items():
                if spend.get_cell(row.agent, key) != value:
                    spend.update_cell(row.agent, key, value)
        if view.cache is not None:
            spend.border_subtitle = cache_line(view.cache)
        self._set_quality(list(view.quality))
        self.border_subtitle = f"today is {view.day}" if view.day else "no run yet"

    def _set_quality(self, rows: list[QualityRow]) -> None:
        table = self.query_one("#quality-table", DataTable)
        keys = [f"{r.venture}/{r.version}" for r in rows]
        def share(value: float | None) -> str:
            return f"{value:.0%}" if value is not None else "—"

        cells = [(r.venture, f"v{r.version}" if r.version is not None else "none", str(r.decisions),
                  share(r.escalated_share), share(r.approval_rate),
                  f"{r.worked}/{r.measured} ({r.worked / r.measured:.0%})" if r.measured else "—",
                  f"{r.mean_delta:+.1%}" if r.mean_delta is not None else "—") for r in rows]
        if keys != self._quality_keys:
            table.clear()
            for key, row in zip(keys, cells, strict=True):
                table.add_row(*row, key=key)
            self._quality_keys = keys
            return
        for key, row in zip(keys, cells, strict=True):
            for column, value in zip(QUALITY_COLUMNS, row, strict=True):
                if table.get_cell(key, column) != value:
                    table.update_cell(key, column, value)
