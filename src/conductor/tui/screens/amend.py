"""Amending an escalated decision's parameters before approving it, validated against its decision kind.

Each parameter of the kind gets a field prefilled with the agent's value; only changed fields are sent, after
`services.founder.validate_amendment` accepts them (type, range, choices). ctrl+s or enter on the last field
approves with the changes; esc cancels.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from conductor.errors import BadInput
from conductor.org.models import DecisionKind, Org, ParamSpec
from conductor.services.queries import EscalationDetail
from conductor.text import printable


def spec_text(name: str, spec: ParamSpec) -> str:
    bits: list[str] = [spec.type]
    if spec.choices:
        bits.append("one of " + ", ".join(spec.choices))
    if spec.min is not None or spec.max is not None:
        lo = "" if spec.min is None else f"{spec.min:g}"
        hi = "" if spec.max is None else f"{spec.max:g}"
        bits.append(f"{lo}..{hi}")
    text = f"{name} ({'; '.join(bits)})"
    return text + (f": {spec.description}" if spec.description else "")


def parse_value(name: str, spec: ParamSpec, raw: str) -> Any:
    """The typed value of a field, or BadInput naming the parameter."""
    raw = raw.strip()
    if spec.type == "integer":
        try:
            return int(raw)
        except ValueError:
            raise BadInput(f"{name}: '{raw}' is not a whole number") from None
    if spec.type == "number":
        try:
            value = float(raw)
        except ValueError:
            raise BadInput(f"{name}: '{raw}' is not a number") from None
        return int(value) if value.is_integer() and "." not in raw else value
    if spec.type == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "yes", "y", "1"):
            return True
        if lowered in ("false", "no", "n", "0"):
            return False
        raise BadInput(f"{name}: '{raw}' is not true or false")
    return raw


def changed_params(kind: DecisionKind, current: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """The parameters whose field differs from the agent's value, typed; BadInput for a bad field."""
    changed: dict[str, Any] = {}
    for name, raw in fields.items():
        spec = kind.params.get(name)
        if spec is None:
            continue
        if name in current and raw.strip() == _shown(current[name]):
            continue
        if name not in current and not raw.strip():
            continue
        changed[name] = parse_value(name, spec, raw)
    return changed


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return printable(value, one_line=True)


class AmendScreen(ModalScreen[dict[str, Any] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="amend.cancel"),
        Binding("ctrl+s", "submit", "Approve amended", id="amend.submit"),
    ]

    def __init__(self, org: Org, detail: EscalationDetail) -> None:
        super().__init__(classes="modal")
        self.org = org
        self.detail = detail
        kind = org.kind(detail.decision_kind or "")
        if kind is None:
            raise BadInput(f"decision kind '{detail.decision_kind}' is not in the org file")
        self.kind = kind

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog amend-dialog"):
            yield Label(Text(f"Amend #{self.detail.id}: {self.kind.id} from {self.detail.agent}", style="bold"),
                        classes="dialog-title")
            yield Static(Text(printable(self.kind.description), style="italic"))
            with VerticalScroll(id="amend-fields"):
                for name, spec in self.kind.params.items():
                    yield Label(Text(spec_text(name, spec)), classes="amend-label")
                    value = self.detail.params.get(name)
                    yield Input(value="" if value is None else _shown(value), id=f"param-{name}",
                                classes="amend-field", placeholder=spec.type)
            yield Static("", id="amend-error", classes="dialog-error")
            yield Static(Text("enter on the last field or ctrl+s approves with the changes · esc cancels",
                              style="dim"))

    def on_mount(self) -> None:
        fields = list(self.query(".amend-field").results(Input))
        if fields:
            fields[0].focus()

    def fields(self) -> dict[str, str]:
        return {w.id.removeprefix("param-"): w.value for w in self.query(".amend-field").results(Input) if w.id}

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        error = self.query_one("#amend-error", Static)
        try:
            changed = changed_params(self.kind, self.detail.params, self.fields())
            if not changed:
                raise BadInput("change at least one parameter (or esc, then a, to approve it as it is)")
            from conductor.services.founder import validate_amendment

            validate_amendment(self.org, self.kind.id, changed)
        except BadInput as exc:
            error.update(Text(str(exc)))
            return
        self.dismiss(changed)

    @on(Input.Submitted, ".amend-field")
    def _next(self, event: Input.Submitted) -> None:
        fields = list(self.query(".amend-field").results(Input))
        if event.input is fields[-1]:
            self.action_submit()
        else:
            fields[fields.index(event.input) + 1].focus()
