"""The brain: memory, synthesis into versions, briefs under a budget, and attribution of outcomes."""
