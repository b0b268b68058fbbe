"""scalpel_core: the tested core of the Scalpel-vs-Hammer reproduction compendium.

Notebooks in ``notebooks/`` tell the story; this package does the work. Its rooms, by role,
from the top down (a module imports its own room or a lower one, never a higher one;
``tests/test_layout.py`` enforces it):

    cli.py                 the ``scalpel`` command line
    pipeline/, report/     the papermill plan and its runner; claims, published numbers, plots, paper
    train/                 GRPO and SFT through TRL, trainable specs, recipes, run folders
    worlds.py              the one switch between the miniature world and the real one
    eval/, lenses/         benchmark scoring; a checkpoint against its base (weights, KL)
    world/                 the miniature world (data, tokenizer, base model)
    data/                  hub datasets and models, the chat format and system prompt
    ground floor           config, paths, arch, checkpoints, cache
"""

__version__ = "0.1.0"
