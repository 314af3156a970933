"""The one redaction of credentials, for every string that enters the event log from outside the process.

Models, providers, proxies, declared commands and imported files can all hand a credential back: a proxy that
echoes the key it was sent, a 401 that quotes it, a deploy script that prints its environment, a model that
repeats a key it saw. Everything the log holds is shown (CLI, control room) and exported, and a database file
outlives the process, so a credential must never reach it. The store applies `redact_payload` to every event
at its one write path (`store.writer`), so no producer can forget to; text shown without passing the store (a
provider's fault detail printed by the CLI) goes through `redact`.

Two things are removed. The values of credentials this process knows: environment variables whose names say
they hold a key, token, secret or password, and values registered with `remember` (keys given in the call
options, the password of an `api_base` URL). And strings shaped like a common credential: OpenAI, Anthropic
and OpenRouter `sk-...`, Stripe `sk_live_...`, GitHub `ghp_...`, Slack `xoxb-...`, AWS `AKIA...`, Google
`AIza...`, Hugging Face `hf_...`, Groq `gsk_...`, xAI `xai-...`, bearer tokens, passwords in URLs and
`api_key=...` assignments. Each becomes `[redacted]`; the text around it is kept so the founder still sees
what happened.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

REDACTED = "[redacted]"

# Environment variables holding credentials, by a whole word of their name (TOKENIZERS_PARALLELISM is not one).
_CREDENTIAL_NAME = re.compile(r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PAT)(?:_|$)",
                              re.IGNORECASE)
_MIN_CREDENTIAL = 8  # shorter values ("true", a port) are not credentials and would be removed everywhere

_ID = r"[A-Za-z0-9_\-]"
# Credentials with a recognisable prefix. Each lies inside one run of `_TOKEN` characters.
_PREFIXED = (
    # sk-/pk-/rk-: a known qualifier (sk-proj-, sk-ant-, sk_live_...), or a digit in 16+ characters, or 32+
    # characters: "sk-marketing-lead" is a name, "sk-proj-Ab3..." a key.
    rf"(?:sk|pk|rk)[-_](?:(?:live|test|proj|ant|or|svcacct|admin)[-_]{_ID}{{8,}}"
    rf"|(?={_ID}*\d){_ID}{{16,}}|{_ID}{{32,}})"
    rf"|(?:xox[abprs]|gh[pousr])[-_]{_ID}{{8,}}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}(?![0-9A-Za-z])"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|(?:hf|gsk)_[A-Za-z0-9]{20,}"
    r"|xai-[A-Za-z0-9]{20,}"
)
_MIN_PREFIXED = 12  # the shortest `_PREFIXED` match ("ghp_" and 8 more)
_TOKEN = re.compile(rf"{_ID}{{{_MIN_PREFIXED},}}")
_KEY = re.compile(rf"(?<![A-Za-z0-9])(?:{_PREFIXED})")
_KEY_ANYWHERE = re.compile(_PREFIXED)  # for the quick test of a payload's JSON, where `\n` leaves an "n" before
# Credentials known by what precedes them; only the secret part is replaced: "Bearer [redacted]",
# "api_key=[redacted]", "https://user:[redacted]@host". Each needs one of `_CONTEXT_WORDS` (lower case).
_CONTEXTUAL = re.compile(
    r"(?i:(?<![A-Za-z0-9])bearer\s+)(?P<bearer>[A-Za-z0-9._~+/\-]{12,}=*)"
    r"|://[^\s/:@\"']+:(?P<userinfo>[^\s/@\"']+)@"
    r"|(?i:(?<![A-Za-z0-9])(?:api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|secret[_-]?key"
    r"|secret|password|passwd)[\"']?\s*[:=]\s*[\"']?)(?P<assigned>[^\s\"'&,;]{8,})"
)
_CONTEXT_WORDS = ("bearer", "://", "api", "access", "auth", "secret", "passw")
# Searched as a whole, these patterns cost Python's regular expressions ~0.1 µs a character, more than the
# store's JSON encoding of the event: they run only on the runs of key characters long enough to hold a key
# (found by `_TOKEN`, ~15x cheaper) and on text holding one of the context words (plain `in`).


class _Known:
    """The credential values this process knows, longest first (a key containing another goes whole).

    Reading the environment costs ~100 µs, too much for every commit: it is read on first use and again on
    `refresh` (the event writer refreshes when it starts, so a run sees the environment it was started with).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._env: tuple[str, ...] | None = None
        self._remembered: set[str] = set()
        self._values: tuple[str, ...] = ()
        self._in_json: tuple[str, ...] = ()

    def values(self) -> tuple[str, ...]:
        if self._env is None:
            self.refresh()
        return self._values

    def in_json(self) -> tuple[str, ...]:
        """How each value appears inside a JSON string (escaped quotes, backslashes, non-ASCII)."""
        if self._env is None:
            self.refresh()
        return self._in_json

    def refresh(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        found = tuple(v for k, v in env.items() if _CREDENTIAL_NAME.search(k) and len(v.strip()) >= _MIN_CREDENTIAL)
        with self._lock:
            self._env = found
            self._rebuild()

    def remember(self, values: Iterable[str]) -> None:
        with self._lock:
            self._remembered.update(v for v in values if isinstance(v, str) and len(v) >= _MIN_CREDENTIAL)
            self._rebuild()

    def _rebuild(self) -> None:
        values = sorted(set(self._env or ()) | self._remembered, key=len, reverse=True)
        self._values = tuple(values)
        forms: set[str] = set()
        for v in values:
            forms.add(json.dumps(v, ensure_ascii=False)[1:-1])
            forms.add(json.dumps(v)[1:-1])
        self._in_json = tuple(forms)


_known = _Known()


def refresh_credentials(environ: Mapping[str, str] | None = None) -> None:
    """Read the credentials held in the environment again (the event writer does when it starts)."""
    _known.refresh(environ)


def remember(*values: str) -> None:
    """Treat these values as credentials from now on, wherever they appear (keys given outside the environment)."""
    _known.remember(values)


def remember_call_options(api_base: str | None, options: Mapping[str, Any] | None) -> None:
    """Remember the credentials in a model call's configuration: the password of `api_base`, and any option
    whose name says it is a key or token (`api_key=` passed straight to litellm)."""
    found: list[str] = []
    if api_base:
        password = urlsplit(api_base).password
        if password:
            found.append(password)
    for name, value in (options or {}).items():
        if isinstance(value, str) and _CREDENTIAL_NAME.search(name.upper()):
            found.append(value)
    remember(*found)


def _mask(match: re.Match[str]) -> str:
    """Only the secret group of a contextual match: what precedes it says what was there."""
    for group in ("bearer", "userinfo", "assigned"):
        start = match.start(group)
        if start >= 0:
            whole = match.group(0)
            return whole[: start - match.start()] + REDACTED + whole[match.end(group) - match.start():]
    return REDACTED  # pragma: no cover (every alternative has a group)


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    return _KEY.sub(REDACTED, token) if _KEY_ANYWHERE.search(token) else token


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with every known credential and every credential-shaped string replaced by `[redacted]`.

    `environ` replaces the process's known credentials (for tests of this function alone).
    """
    values = (tuple(v for k, v in environ.items() if _CREDENTIAL_NAME.search(k) and len(v) >= _MIN_CREDENTIAL)
              if environ is not None else _known.values())
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    if environ is None:  # and as it reads inside a JSON string (a model's raw answer quoting it, escaped)
        for form in _known.in_json():
            if form in text:
                text = text.replace(form, REDACTED)
    if len(text) >= _MIN_PREFIXED:
        text = _TOKEN.sub(_mask_token, text)
    if _has_context_word(text.lower()):
        text = _CONTEXTUAL.sub(_mask, text)
    return text


def _has_context_word(lowered: str) -> bool:
    for word in _CONTEXT_WORDS:  # noqa: SIM110 (a loop, not any(): this runs on every payload, ~0.4 µs less)
        if word in lowered:
            return True
    return False


def _has_key_shape(text: str) -> bool:
    """Whether a run of key characters in `text` holds a prefixed key, wherever in the run it starts."""
    run = _TOKEN.search(text)
    while run is not None:
        if _KEY_ANYWHERE.search(run.group(0)):
            return True
        run = _TOKEN.search(text, run.end())
    return False


def _holds_known_credential(dumped: str) -> bool:
    return any(form in dumped for form in _known.in_json())


def _might_hold_credential(dumped: str) -> bool:
    """Whether a payload's JSON text may hold something `redact` would change (never False when it would).

    JSON escapes only quotes, backslashes and control characters, none of them part of a key, a context word
    or (escaped the same way) a known value; an escape before a key adds a letter before it ("\\nsk-..."),
    which is why the keys are looked for without the boundary `redact` asks for.
    """
    return _holds_known_credential(dumped) or _has_key_shape(dumped) or _has_context_word(dumped.lower())


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {(redact(k) if isinstance(k, str) else k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def redact_payload(payload: dict[str, Any], dumped: str, *, own: bool = False) -> dict[str, Any] | None:
    """A copy of an event's payload with credentials redacted in every string, or None if it holds none.

    `dumped` is the payload's JSON, which the store makes anyway: one scan of it settles the common case (no
    credential) without walking the payload. `own` payloads (the engine's own values only, see
    `store.events.OwnPayload`) are checked for the credentials the process knows, not for key shapes.
    Numbers, booleans and the event's own columns (kind, venture, agent, times) are never touched; a string
    is changed only where it holds a credential.
    """
    if not (_holds_known_credential(dumped) if own else _might_hold_credential(dumped)):
        return None
    cleaned = _redact_value(payload)
    return None if cleaned == payload else cleaned


def remember_url(url: str) -> None:
    """A URL's credentials from now on: its password, credential-named query values (`?token=...`), and a user
    name given without a password (`https://TOKEN@host`: a token, as often as not)."""
    parts = urlsplit(url)
    remember_call_options(url, dict(parse_qsl(parts.query)))
    if parts.username and parts.password is None:
        remember(unquote(parts.username))


def shown_url(url: str) -> str:
    """A URL as events, logs and the CLI show it: the password replaced (a user name alone too, as it is often a
    token), and anything else a credential (a known token in the query, a key-shaped string) redacted."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    user, at, host = netloc.rpartition("@")
    if at:
        netloc = f"{user.partition(':')[0]}:{REDACTED}@{host}" if ":" in user else f"{REDACTED}@{host}"
    return redact(urlunsplit((scheme, netloc, path, query, fragment)))


def shown_command(argv: list[str]) -> str:
    """A command as the CLI and events show it: its program's name, and its script's (`python3 signups.py`),
    never the other arguments, which may hold a token."""
    if not argv:
        return ""
    program = PurePath(argv[0]).name or argv[0]
    script = argv[1] if len(argv) > 1 else ""
    if script and not script.startswith("-") and "=" not in script and ("/" in script or PurePath(script).suffix):
        program += " " + PurePath(script).name
    return redact(program)

