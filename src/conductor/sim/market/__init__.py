"""The simulated market: a world where judgment matters, deterministic for a seed and a decision log.

`Market` (version 2, `market.py`) is what new runs use: hidden per-option effects with delays and diminishing
returns, studio-wide latent traits shared by ventures of a kind (`world.py`), weekday swings and noise common
to every arm of an evaluation (`effects.py`). `legacy.Market` (version 1) is kept so that runs recorded before
version 2 replay to the numbers their logs hold: `make_market(version, ...)` picks one.

The market never reads prompts, and nothing in it is shown to agents: only the engine's actions apply
decisions to it, and only the evaluation (`conductor.eval`) reads its hidden parameters.
"""

from __future__ import annotations

from typing import Any

from conductor.sim.market.coerce import METRICS
from conductor.sim.market.effects import Effect
from conductor.sim.market.levers import LEVERS
from conductor.sim.market.market import METRICS_V2, VERSION, Market
from conductor.sim.market.world import (
    AREAS,
    CHANNELS,
    OPTION_LEVERS,
    SEGMENTS,
    MarketParams,
    draw_params,
)


def make_market(version: int | None, venture_id: str, seed: int, initial: dict[str, float],
                studio_seed: int = 0) -> Any:
    """The market of `version` (None or 1: the legacy market of runs recorded before version 2)."""
    if version is not None and version >= 2:
        return Market(venture_id, seed, initial, studio_seed=studio_seed)
    from conductor.sim.market.legacy import Market as LegacyMarket

    return LegacyMarket(venture_id, seed, initial)


__all__ = [
    "AREAS", "CHANNELS", "LEVERS", "METRICS", "METRICS_V2", "OPTION_LEVERS", "SEGMENTS", "VERSION", "Effect", "Market",
    "MarketParams", "draw_params", "make_market",
]
