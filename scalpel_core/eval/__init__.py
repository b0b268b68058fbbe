"""Benchmarks: the miniature analogues, lm-evaluation-harness, answer grading, generation and statistics."""
