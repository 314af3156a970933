"""The database schema as ordered migrations; `PRAGMA user_version` says how many have been applied.

Migration N takes a database at version N-1 to version N. Never edit a migration that has shipped: add one.
The `events` table is the truth; every other table is a projection that `store.rebuild` can recreate from it.
"""

from __future__ import annotations

# 'CNDT' in ASCII: marks a file as conductor's, so a foreign SQLite file is recognised before we touch it.
APPLICATION_ID = 0x434E4454

EVENTS_DDL = """
CREATE TABLE events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    ts       TEXT NOT NULL,
    sim_time TEXT,
    venture  TEXT,
    agent    TEXT,
    kind     TEXT NOT NULL,
    payload  TEXT NOT NULL CHECK (json_valid(payload))
);
CREATE INDEX events_by_kind ON events(kind, id);
CREATE INDEX events_by_venture ON events(venture, id);
CREATE INDEX events_by_agent ON events(agent, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""

# Projection tables: what the product shows, each derivable by replaying the events (see `store.rebuild`).
PROJECTIONS_DDL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    venture     TEXT,
    role        TEXT NOT NULL,
    owns_metric TEXT,
    state       TEXT NOT NULL DEFAULT 'sleeping',
    paused      INTEGER NOT NULL DEFAULT 0,
    next_wake   TEXT,
    last_wake   TEXT,
    wakes       INTEGER NOT NULL DEFAULT 0,
    idle_ticks  INTEGER NOT NULL DEFAULT 0,
    updated_by  INTEGER
);
CREATE TABLE ventures (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    stage  TEXT NOT NULL,
    goal   TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY,
    venture    TEXT NOT NULL,
    from_agent TEXT,
    to_agent   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL DEFAULT 'open',
    result     TEXT,
    created    TEXT,
    updated    TEXT
);
CREATE INDEX tasks_by_owner ON tasks(to_agent, state);
CREATE TABLE decisions (
    id              INTEGER PRIMARY KEY,
    venture         TEXT NOT NULL,
    agent           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',
    rationale       TEXT NOT NULL DEFAULT '',
    expected        TEXT NOT NULL DEFAULT '{}',
    confidence      REAL,
    reversible      INTEGER,
    brain_version   INTEGER,
    state           TEXT NOT NULL,
    review_round    INTEGER NOT NULL DEFAULT 0,
    route           TEXT,
    created         TEXT,
    decided         TEXT,
    executed        TEXT,
    idempotency_key TEXT UNIQUE,
    result          TEXT,
    outcome         TEXT
);
CREATE INDEX decisions_by_agent ON decisions(agent, id);
CREATE INDEX decisions_by_state ON decisions(state);
CREATE TABLE escalations (
    id          INTEGER PRIMARY KEY,
    decision_id INTEGER,
    venture     TEXT,
    agent       TEXT,
    kind        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    urgency     INTEGER NOT NULL DEFAULT 1,
    state       TEXT NOT NULL DEFAULT 'pending',
    created     TEXT,
    expires     TEXT,
    resolved    TEXT,
    verdict     TEXT,
    note        TEXT,
    amended     TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX escalations_by_state ON escalations(state, expires);
CREATE TABLE directives (
    id      INTEGER PRIMARY KEY,
    venture TEXT NOT NULL,
    text    TEXT NOT NULL,
    created TEXT,
    active  INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE metric_points (
    venture  TEXT NOT NULL,
    metric   TEXT NOT NULL,
    at       TEXT NOT NULL,
    value    REAL NOT NULL,
    source   TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (venture, metric, at)
);
CREATE TABLE calls (
    id                INTEGER PRIMARY KEY,
    at                TEXT,
    day               TEXT,
    venture           TEXT,
    agent             TEXT,
    model             TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost              REAL NOT NULL DEFAULT 0,
    latency_ms        REAL NOT NULL DEFAULT 0,
    ok                INTEGER NOT NULL,
    error             TEXT
);
CREATE INDEX calls_by_day ON calls(day, venture, agent);
CREATE TABLE brain_versions (
    venture    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    parent     INTEGER,
    author     TEXT NOT NULL,
    model      TEXT,
    tokens     INTEGER NOT NULL DEFAULT 0,
    cost       REAL NOT NULL DEFAULT 0,
    memory_ids TEXT NOT NULL DEFAULT '[]',
    document   TEXT NOT NULL,
    created    TEXT,
    event_id   INTEGER NOT NULL,
    PRIMARY KEY (venture, version)
);
CREATE TRIGGER brain_versions_immutable_update BEFORE UPDATE ON brain_versions
    BEGIN SELECT RAISE(ABORT, 'brain versions are immutable'); END;
CREATE TRIGGER brain_versions_immutable_delete BEFORE DELETE ON brain_versions
    BEGIN SELECT RAISE(ABORT, 'brain versions are immutable'); END;
CREATE TABLE trust_grants (
    agent       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    spend_limit REAL NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    changed     TEXT,
    event_id    INTEGER NOT NULL,
    PRIMARY KEY (agent, kind)
);
"""

PROJECTION_TABLES = (
    "meta",
    "agents",
    "ventures",
    "tasks",
    "decisions",
    "escalations",
    "directives",
    "metric_points",
    "calls",
    "brain_versions",
    "trust_grants",
    "memories",
    "brain_pins",
)

# Migration 2: the brain's memory stream (a projection of events, searchable with SQLite's own FTS5 and its
# bm25() ranking, so retrieval works offline with no extra dependency) and the founder's pins on brain versions.
BRAIN_DDL = """
CREATE TABLE memories (
    id          INTEGER PRIMARY KEY,
    venture     TEXT NOT NULL,
    agent       TEXT,
    at          TEXT,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL,
    importance  INTEGER NOT NULL,
    keywords    TEXT NOT NULL DEFAULT '',
    decision_id INTEGER
);
CREATE INDEX memories_by_venture ON memories(venture, id);
CREATE INDEX memories_by_importance ON memories(venture, importance, id);
CREATE VIRTUAL TABLE memories_fts USING fts5(
    text, keywords, content = 'memories', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories
    BEGIN INSERT INTO memories_fts(rowid, text, keywords) VALUES (new.id, new.text, new.keywords); END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories
    BEGIN INSERT INTO memories_fts(memories_fts, rowid, text, keywords) VALUES ('delete', old.id, old.text, old.keywords); END;
CREATE TRIGGER memories_no_update BEFORE UPDATE ON memories
    BEGIN SELECT RAISE(ABORT, 'memories are immutable'); END;
CREATE TABLE brain_pins (
    venture  TEXT PRIMARY KEY,
    version  INTEGER NOT NULL,
    pinned   TEXT,
    event_id INTEGER NOT NULL
);
"""

# Migration 3: the brain's concurrent control. Each decision records which arm of it its wake-up drew
# (current, previous or none) and the version in force then (its `brain_version` is the version it was shown),
# so brain versions are compared with a control running at the same time. NULL on decisions from older logs.
CONTROL_DDL = """
ALTER TABLE decisions ADD COLUMN brief_arm TEXT;
ALTER TABLE decisions ADD COLUMN brain_in_force INTEGER;
"""

# Migration 4: prompt caching in the spend ledger. A call's prompt tokens that the provider read from its cache,
# and what they cost less than uncached input; 0 on calls from older logs (the payloads carried neither).
CACHE_DDL = """
ALTER TABLE calls ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN cache_saved REAL NOT NULL DEFAULT 0;
"""

# Ordered: MIGRATIONS[0] takes user_version 0 to 1, and so on.
MIGRATIONS: tuple[str, ...] = (EVENTS_DDL + PROJECTIONS_DDL, BRAIN_DDL, CONTROL_DDL, CACHE_DDL)
SCHEMA_VERSION = len(MIGRATIONS)
