"""Evaluating the organisation: harnesses and the renderers they use (a paraphrased brief, for one)."""
