"""One switch for every progress bar: ours (tqdm ``progress=`` arguments) and Hugging Face's."""

from __future__ import annotations


def set_progress(enabled: bool) -> bool:
    """Turn transformers' and datasets' progress bars on or off; returns ``enabled``.

    Batch runs (papermill, nbval) turn them off so executed notebooks hold no bar noise.
    """
    import datasets
    from transformers.utils import logging as hf_logging

    if enabled:
        hf_logging.enable_progress_bar()
        datasets.enable_progress_bars()
    else:
        hf_logging.disable_progress_bar()
        datasets.disable_progress_bars()
    return enabled
