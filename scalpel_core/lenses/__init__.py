"""Lenses on a checkpoint against its base, for any Hugging Face causal LM: weight change, KL."""
