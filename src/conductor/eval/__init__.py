"""The evaluation: does an organization that remembers end with a better business? Measured, not claimed.

`conductor eval` runs the same org on paired seeds in arms that differ in one thing (the brief, the platform
insights, the brief's wording), in parallel processes, and compares them on an endpoint fixed before running:
total MRR at the horizon. Reference policies (do nothing, random options, the oracle that knows the market's
hidden parameters) are replays of the full arm's own decision log through the deterministic market, with
the options changed: the same decisions at the same moments, judged only on which option was chosen.

This package is the only reader of the market's hidden truth (`MarketParams`); nothing here runs inside an
engine or reaches an agent.
"""
