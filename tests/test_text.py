"""What model-written and provider-written text may look like once conductor stores or shows it."""

from __future__ import annotations

from conductor.redaction import redact as redact_secrets
from conductor.text import printable


def test_printable_strips_every_kind_of_terminal_escape() -> None:
    hostile = ("ok\x1b[2J\x1b[31mred\x1b[0m \x1b]0;owned\x07title \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ "
               "\x1bP+q\x1b\\dcs \x9b31mc1\x00\x07\x08bell")
    clean = printable(hostile)
    assert "\x1b" not in clean and "\x9b" not in clean and "\x07" not in clean and "\x00" not in clean
    assert clean == "okred title link dcs c1bell"


def test_printable_keeps_text_and_newlines_and_folds_when_asked() -> None:
    assert printable("a\n\tb") == "a\n\tb"
    assert printable("a\n\tb  c", one_line=True) == "a b c"
    assert printable("x" * 1_000_000, limit=20) == "x" * 19 + "…"


def test_redact_secrets_removes_credential_values_and_key_shapes() -> None:
    env = {"OPENAI_API_KEY": "sk-test-PLANTED-0123456789", "HOME": "/root", "MY_TOKEN": "tok_abcdefghijkl"}
    text = "bad key sk-test-PLANTED-0123456789; token tok_abcdefghijkl; home /root; other sk-live_ABCDEFGHIJ"
    out = redact_secrets(text, env)
    assert "PLANTED" not in out and "tok_abcdefghijkl" not in out and "ABCDEFGHIJ" not in out
    assert "/root" in out, "only credentials are removed"
    assert out.count("[redacted]") == 3
