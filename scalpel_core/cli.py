"""The ``scalpel`` command line.

    scalpel base --preset tiny [--rebuild]     # build (or reuse) the miniature base model
    scalpel reproduce --preset tiny            # execute every numbered notebook with papermill
"""

from __future__ import annotations

import argparse
import sys

from .config import PRESETS, ConfigError


def _base(args) -> int:
    from . import config
    from .world.base import build_base

    cfg = config.load(args.preset)
    path = build_base(cfg, rebuild=args.rebuild)
    print(path)
    return 0


def _reproduce(args) -> int:
    from .reproduce import run_all

    return run_all(args.preset, kernel=args.kernel)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scalpel", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("base", help="build or reuse the miniature base model of a preset")
    p.add_argument("--preset", default="tiny", choices=PRESETS)
    p.add_argument("--rebuild", action="store_true", help="pretrain again even if cached")
    p.set_defaults(func=_base)
    p = sub.add_parser("reproduce", help="execute every numbered notebook with papermill")
    p.add_argument("--preset", default="tiny", choices=PRESETS)
    p.add_argument("--kernel", default=None, help="Jupyter kernel (default: the project's own)")
    p.set_defaults(func=_reproduce)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"scalpel: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
