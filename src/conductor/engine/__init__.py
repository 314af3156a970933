"""The engine: scheduler, wake-ups, gates, reviews, retries, budgets and actions."""
