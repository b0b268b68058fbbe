"""Token-id sequences as one padded batch, shared by generation scoring and the KL lens."""

from __future__ import annotations


def right_pad(seqs: list[list[int]], pad_id: int, device=None):
    """``(ids, mask)``: ``seqs`` right-padded to the longest with ``pad_id``, and 1 on real tokens.

    Right padding keeps every real token at its own position and never lets it attend to padding
    (causal attention), so a sequence scores as it would alone.
    """
    import torch

    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, seq in enumerate(seqs):
        ids[r, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[r, : len(seq)] = 1
    return (ids, mask) if device is None else (ids.to(device), mask.to(device))
