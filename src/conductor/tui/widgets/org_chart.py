"""Pane 5, Org: the org chart as a tree (venture, then each agent under whom it reports to), with each
agent's role, owned metric, state and next wake-up. `space` pauses or resumes the agent, venture or whole org
under the cursor, `w` wakes an agent now, `d` adds a directive for the venture under the cursor.

The tree is built once from the org file; each poll only relabels the nodes whose agent changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from conductor.org.models import Org
from conductor.services.queries import AgentRow, DirectiveRow
from conductor.text import printable
from conductor.tui.format import money, plain, short_time, state_glyph, state_label
from conductor.tui.messages import Directive, PauseToggle, Wake

STATE_STYLES = {
    "working": "bold green", "waiting for review": "yellow", "paused": "bold yellow", "stuck": "bold red",
    "budget_stopped": "bold red", "capped": "yellow", "interrupted": "dim", "sleeping": "dim",
}


@dataclass(frozen=True)
class NodeRef:
    kind: str  # "org", "venture" or "agent"
    id: str | None


class OrgTree(Tree[NodeRef]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause_toggle", "Pause/resume", id="org.pause"),
        Binding("w", "wake", "Wake now", id="org.wake"),
        Binding("d", "directive", "Directive", id="org.directive"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, org: Org, origin: datetime | None, *, id: str | None = None) -> None:
        super().__init__(Text(org.name, style="bold"), data=NodeRef("org", None), id=id)
        self.org = org
        self.origin = origin
        self.rows: dict[str, AgentRow] = {}
        self.agent_nodes: dict[str, TreeNode[NodeRef]] = {}
        self.venture_nodes: dict[str, TreeNode[NodeRef]] = {}
        self.venture_paused: dict[str, bool] = {}
        self.venture_stage: dict[str, str] = {v.id: v.stage for v in org.ventures}
        self.org_paused = False
        self.set_reactive(Tree.guide_depth, 3)
        self._build_chart()

    def _build_chart(self) -> None:
        root = self.root
        root.expand()
        for venture in self.org.ventures:
            node = root.add(Text(f"{venture.name} ({venture.id}) · {venture.stage}", style="bold"),
                            data=NodeRef("venture", venture.id), expand=True)
            self.venture_nodes[venture.id] = node
            parents = {a.id: a.reports_to for a in venture.agents}
            placed: dict[str, TreeNode[NodeRef]] = {}

            def place(agent_id: str, _parents: dict[str, str | None] = parents, _node: TreeNode[NodeRef] = node,
                      _placed: dict[str, TreeNode[NodeRef]] = placed) -> TreeNode[NodeRef]:
                if agent_id in _placed:
                    return _placed[agent_id]
                boss = _parents.get(agent_id)
                parent = place(boss) if boss is not None and boss in _parents and boss != agent_id else _node
                child = parent.add_leaf(Text(agent_id), data=NodeRef("agent", agent_id))
                _placed[agent_id] = child
                return child

            for agent in venture.agents:
                place(agent.id)
            self.agent_nodes.update(placed)
        for node in list(self.agent_nodes.values()):
            if node.children:
                node.allow_expand = True
                node.expand()
        platform = self.org.platform
        self.agent_nodes[platform.id] = root.add_leaf(Text(platform.id), data=NodeRef("agent", platform.id))

    def _indent(self, node: TreeNode[NodeRef]) -> int:
        """Cells before a node's label: the guides, and the expand icon of a node with children."""
        depth = -1 if not self.show_root else 0
        parent = node.parent
        while parent is not None:
            depth += 1
            parent = parent.parent
        icon = 2 if node.allow_expand else 0
        return depth * self.guide_depth + icon

    def _label(self, row: AgentRow, indent: int) -> Text:
        """Columns that line up whatever the depth: the id is padded to where the role column starts."""
        width = self.size.width or 80
        wide = width >= 100
        state = row.state
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{state_glyph(state)} ", STATE_STYLES.get(state, ""))
        id_width = max(len(row.id), (32 if wide else 28) - indent - 2)
        text.append(f"{row.id:<{id_width}} ", "bold")
        role_width = 16 if wide else 13
        role = printable(row.role, one_line=True, limit=role_width)
        text.append(f"{role:<{role_width}} ")
        if wide:
            text.append(f"{(row.owns_metric or '—')[:16]:<16} ", "italic")
        label = state_label(state, short=not wide)
        text.append(f"{label:<{18 if wide else 14}} ", STATE_STYLES.get(state, ""))
        next_wake = short_time(row.next_wake, self.origin) if row.next_wake else "—"
        text.append(f"next {next_wake}", "dim")
        if width >= 150:
            text.append(f"  {money(row.spend_today):>8} today", "dim")
        return text

    def set_agents(self, rows: list[AgentRow], venture_paused: dict[str, bool], org_paused: bool,
                   stages: dict[str, str] | None = None) -> None:
        """Agents' rows, and each venture's pause and stage as the log has them (an executed `stage.change`
        moves a venture on from the stage its org file started it at)."""
        changed = False
        for row in rows:
            node = self.agent_nodes.get(row.id)
            if node is None:
                continue
            if self.rows.get(row.id) != row:
                self.rows[row.id] = row
                node.set_label(self._label(row, self._indent(node)))
                changed = True
        for venture in self.org.ventures:
            paused = venture_paused.get(venture.id, False)
            stage = (stages or {}).get(venture.id) or self.venture_stage[venture.id]
            if self.venture_paused.get(venture.id) != paused or self.venture_stage[venture.id] != stage:
                self.venture_paused[venture.id] = paused
                self.venture_stage[venture.id] = stage
                label = Text(f"{venture.name} ({venture.id}) · {stage}", style="bold")
                if paused:
                    label.append("  ‖ paused", "bold yellow")
                self.venture_nodes[venture.id].set_label(label)
        if org_paused != self.org_paused:
            self.org_paused = org_paused
            label = Text(self.org.name, style="bold")
            if org_paused:
                label.append("  ‖ paused", "bold yellow")
            self.root.set_label(label)
        if changed:
            self.refresh()

    def on_resize(self) -> None:
        for agent_id, row in self.rows.items():
            node = self.agent_nodes[agent_id]
            node.set_label(self._label(row, self._indent(node)))

    # -- actions ------------------------------------------------------------------------------------------
    @property
    def ref(self) -> NodeRef | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def _venture_of(self, ref: NodeRef | None) -> str | None:
        if ref is None or ref.kind == "org":
            return None
        if ref.kind == "venture":
            return ref.id
        found = self.org.agent(ref.id or "")
        return found[0].id if found else None

    def action_pause_toggle(self) -> None:
        ref = self.ref
        if ref is None:
            return
        if ref.kind == "agent":
            row = self.rows.get(ref.id or "")
            own = row is not None and row.state == "paused" and not self.org_paused and not self.venture_paused.get(
                row.venture or "", False)
            self.post_message(PauseToggle(ref.id, not own))
        elif ref.kind == "venture":
            self.post_message(PauseToggle(ref.id, not self.venture_paused.get(ref.id or "", False)))
        else:
            self.post_message(PauseToggle(None, not self.org_paused))

    def action_wake(self) -> None:
        ref = self.ref
        if ref is None or ref.kind != "agent":
            self.notify("move to an agent to wake it", severity="warning", timeout=2)
            return
        self.post_message(Wake(ref.id or ""))

    def action_directive(self) -> None:
        self.post_message(Directive(self._venture_of(self.ref)))


class OrgPane(Horizontal):
    """The tree, and beside it on wide terminals what the agent under the cursor is doing."""

    def __init__(self, org: Org, origin: datetime | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.org = org
        self.origin = origin
        self.directives: list[DirectiveRow] = []
        self.border_title = "Org"

    def compose(self) -> ComposeResult:
        yield OrgTree(self.org, self.origin, id="org-tree")
        with VerticalScroll(id="org-side"):
            yield Static(id="org-detail")

    @property
    def chart(self) -> OrgTree:
        return self.query_one(OrgTree)

    def focus_primary(self) -> None:
        self.chart.focus()

    def set_agents(self, rows: list[AgentRow], venture_paused: dict[str, bool], org_paused: bool,
                   stages: dict[str, str] | None = None) -> None:
        self.chart.set_agents(rows, venture_paused, org_paused, stages)
        self._detail()
        working = sum(1 for r in rows if r.state == "working")
        stuck = sum(1 for r in rows if r.state == "stuck")
        self.border_subtitle = f"{len(rows)} agents · {working} working · {stuck} stuck"

    def set_directives(self, directives: list[DirectiveRow]) -> None:
        self.directives = directives
        self._detail()

    @on(Tree.NodeHighlighted)
    def _detail(self) -> None:
        screen = self.app.screen
        if not (screen.has_class("-wide") or screen.has_class("-xwide")):
            return
        tree = self.chart
        ref = tree.ref
        venture = tree._venture_of(ref)
        text = Text()
        if ref is not None and ref.kind == "agent" and ref.id in tree.rows:
            row = tree.rows[ref.id]
            found = self.org.agent(row.id)
            text.append(f"{row.id}\n", "bold")
            text.append_text(plain(f"{row.role} · owns {row.owns_metric or '—'} · {state_label(row.state)}\n"))
            if found is not None:
                text.append_text(plain(f"{found[1].mission}\n", style="italic"))
            text.append(f"\nwakes {row.wakes} · idle {row.idle_ticks} · {row.calls_today} calls today "
                        f"({money(row.spend_today)} of {money(found[1].budget_per_day) if found else '—'})\n")
            text.append(f"next wake-up {short_time(row.next_wake, self.origin)} · "
                        f"{row.open_tasks} open tasks · {row.open_escalations} escalations\n")
            if row.last_summary:
                text.append("\nLast conclusion\n", "bold")
                text.append_text(plain(row.last_summary))
                text.append("\n")
        if ref is not None and ref.kind == "org":
            text.append(f"{self.org.name}\n", "bold")
            text.append(f"{len(self.org.ventures)} ventures, {self.org.agent_count} agents\n")
            text.append("space pauses or resumes everything · move to a venture for d (directive)\n", "dim")
            for v in self.org.ventures:
                count = sum(1 for d in self.directives if d.venture == v.id and d.active)
                text.append_text(plain(f"\n{v.name}: {count} directive{'s' if count != 1 else ''} in force"))
        if venture is not None:
            active = [d for d in self.directives if d.venture == venture and d.active]
            text.append(f"\nDirectives for {venture}\n", "bold")
            for d in active[-8:]:
                text.append_text(plain(f"• {d.text}\n"))
            if not active:
                text.append("none · d adds one\n", "dim")
        self.query_one("#org-detail", Static).update(text)
