"""The embedded default: a simulated model (a litellm provider) and a simulated market per venture."""
