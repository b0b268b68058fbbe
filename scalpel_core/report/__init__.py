"""From result tables to claims, figures and the reproduction paper; the original paper's numbers."""
