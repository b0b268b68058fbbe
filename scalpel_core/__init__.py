"""scalpel_core: the tested core of the Scalpel-vs-Hammer reproduction compendium.

Notebooks in ``notebooks/`` tell the story; this package does the work.
"""

__version__ = "0.1.0"
