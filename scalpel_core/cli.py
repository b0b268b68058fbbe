"""The ``scalpel`` command line.

    scalpel base --preset tiny [--rebuild]     # build (or reuse) the miniature base model
    scalpel train --preset tiny --method grpo  # post-train (grpo | sft1ep | sft3ep), 20 checkpoints + base
    scalpel train --config recipes/paper/grpo.yaml   # a recipe; also under `accelerate launch -m scalpel_core.cli`
    scalpel weights BASE CKPT [CKPT ...] --out changes.csv   # weight change per layer x matrix (.csv/.parquet)
    scalpel kl BASE CKPT [CKPT ...] --out kl.csv             # KL(base || ckpt) on MATH-500, teacher-forced
    scalpel passk BASE CKPT [CKPT ...] --data FILE --n 32 --out passk.csv   # pass@k, crossing k, problems gained/lost
    scalpel report BASE RUN_DIR_OR_CKPTS... --out DIR        # every lens as one notebook + HTML page (--data for KL)
    scalpel calibrate --preset tiny [--no-probe] [--grpo]   # world v3's setup targets: calibration.json + figure
    SCALPEL_FIGURES=DIR scalpel calibrate --preset tiny-w1 --no-probe --set pretrain_steps=1800   # a candidate setting
    scalpel reproduce --preset tiny            # execute the papermill plan (plan.yaml); --dry-run, --force, --draw-only
    scalpel paper --preset tiny                # build paper/paper-tiny.md and .html from figures/tiny/numbers.json

BASE and CKPT are local Hugging Face model folders or hub ids.
"""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, ScalpelError  # light: the CLI starts without importing torch


def _base(args) -> int:
    from . import config, paths
    from .worlds import build_base

    cfg = config.load(args.preset)
    paths.check_writable(paths.artifacts_dir() / args.preset, "artifacts folder (SCALPEL_ARTIFACTS)", folder=True)
    path = build_base(cfg, rebuild=args.rebuild)  # refuses a preset of the real world, naming it
    print(path)
    return 0


def _calibrate(args) -> int:
    from . import config, paths, worlds
    from .report import calibplot, calibration, plots
    from .train import runs

    overrides = config.parse_overrides(args.set)
    cfg = config.load(args.preset, **overrides)
    if not worlds.miniature(cfg):
        raise ConfigError(f"calibrate measures the miniature world's setup; preset {cfg.preset!r} has world="
                          f"{cfg.world!r} (use smoke or tiny)")
    paths.check_writable(paths.artifacts_dir() / args.preset, "artifacts folder (SCALPEL_ARTIFACTS)", folder=True)
    world = worlds.world(cfg)
    base = worlds.build_base(cfg, built=world)
    numbers = calibration.keep_probe(cfg, calibration.measure_setup(cfg, world, base, progress=True,
                                                                    probe=not args.no_probe))
    print(calibration.save(cfg, numbers))
    plots.save(calibplot.figure(numbers), paths.figures_dir(cfg.preset), "calibration")
    signal = None
    if args.grpo:  # the GRPO runs of the plan, trained (or reused) seed by seed
        from .train.trainer import train

        dirs = {}
        for s in runs.seeds(cfg):
            run_cfg = config.load(args.preset, **overrides, method="grpo", train_seed=s)
            dirs[runs.run_id(run_cfg)] = train(run_cfg)
        signal = calibration.save_signal(cfg, calibration.grpo_signal(cfg, dirs))["runs"]
    rows = calibration.checks(numbers, signal)
    for r in rows:
        print(f"{'met ' if r['met'] else 'MISS'}  {r['target']}: {r['value']} ({r['rule']})")
    return 0 if all(r["met"] for r in rows) else 1


def _train(args) -> int:
    from . import config
    from .train.recipes import load_recipe
    from .train.trainer import train

    chosen = {"method": args.method, "trainable": args.trainable, "train_seed": args.train_seed,
              "frozen_layers": args.frozen_layers, "lr_factor": args.lr_factor}
    if args.config:
        cfg, trl_args = load_recipe(args.config, preset=args.preset, **chosen)
    else:
        cfg = config.load(args.preset or "tiny", **{k: v for k, v in chosen.items() if v is not None})
        trl_args = {}
    path = train(cfg, run=args.run, overwrite=args.overwrite, trl_args=trl_args)
    from accelerate import PartialState

    if PartialState().is_main_process:  # one line, also under accelerate launch
        print(path)
    return 0


def _weights(args) -> int:
    from .lenses import weights

    out = weights.check_out(args.out)  # before any work
    _check_cache(args)
    table = weights.compare(args.base, args.ckpts, use_cache=not args.no_cache)
    print(weights.write(table, out))
    return 0


def _kl(args) -> int:
    from .checkpoints import check_model_folder
    from .data import hub
    from .lenses import weights

    out = weights.check_out(args.out)  # before any work: the output, the data, then every model folder
    _check_cache(args)
    try:
        hub.check_source(args.data, hub.MATH500_COLUMNS, split="test")
    except hub.DataError as err:
        raise hub.DataError(f"--data: {err}") from None
    base = check_model_folder(weights.resolve(args.base), "base", tokenizer=True, chat_template=True)
    ckpts = [(c, check_model_folder(weights.resolve(c), "checkpoint")) for c in args.ckpts]
    from transformers import AutoTokenizer

    from .lenses import kl

    conversations = list(hub.load_math500(args.data)["messages"])
    if args.limit:
        conversations = conversations[: args.limit]
    table = kl.curve(base, ckpts, conversations,
                     AutoTokenizer.from_pretrained(base), args.batch_size, args.device, not args.no_cache,
                     template=None if args.template == "own" else args.template)
    print(weights.write(table, out))
    return 0


def _passk(args) -> int:
    from .checkpoints import check_model_folder
    from .data import hub
    from .lenses import weights

    out = weights.check_out(args.out)  # before any work: the output, the numbers, the data, then every model
    _check_cache(args)
    if args.n < 1 or args.problems < 0 or args.max_new_tokens < 1:
        raise ConfigError(f"--n (got {args.n}) and --max-new-tokens (got {args.max_new_tokens}) must be at "
                          f"least 1, --problems (got {args.problems}) at least 0 (0: all)")
    if not args.temperature > 0 or not 0 < args.top_p <= 1:
        raise ConfigError(f"--temperature must be > 0 (got {args.temperature}) and --top-p in (0, 1] (got {args.top_p})")
    if args.engine == "vllm":
        from .eval.passk import vllm_ready

        if not vllm_ready():
            raise ConfigError("--engine vllm needs vLLM installed and a CUDA GPU; use --engine transformers (or auto)")
    try:
        hub.check_source(args.data, hub.MATH500_COLUMNS, split="test")
    except hub.DataError as err:
        raise hub.DataError(f"--data: {err}") from None
    models = {ref: check_model_folder(weights.resolve(ref), "base" if i == 0 else "checkpoint", tokenizer=True,
                                      chat_template=True) for i, ref in enumerate([args.base, *args.ckpts])}
    if len(models) < 2:
        raise ConfigError("give at least one checkpoint other than the base")
    from .eval import passk
    from .report import amplify

    rows = hub.load_math500(args.data)
    items = passk.subset([{"prompt": r["prompt"], "answer": r["answer"]} for r in rows], args.problems, args.seed)
    counts = {ref: passk.counts_folder(path, items, args.n, args.max_new_tokens, args.temperature, args.top_p,
                                       args.seed, args.batch_size, sys.stderr.isatty(), not args.no_cache, args.engine)
              for ref, path in models.items()}
    curves = amplify.curve_table(counts, args.n).drop(columns=["method", "seed"])
    summary = amplify.compare(counts, args.n, base=args.base)
    print(weights.write(curves, out))
    print(weights.write(summary, out.with_name(f"{out.stem}_summary{out.suffix}")))
    return 0


def _report(args) -> int:
    from .report import diagnose

    diagnose.check_out(args.out)  # before any work: the output, the cache, then the kernel, data and models
    _check_cache(args)
    written = diagnose.report(args.base, args.ckpts, args.out, data=args.data, limit=args.limit,
                              template=args.template, svd=args.svd, kernel=args.kernel, use_cache=not args.no_cache,
                              progress=sys.stderr.isatty())
    for path in written:
        print(f"wrote {path}")
    return 0


def _reproduce(args) -> int:
    from .pipeline.reproduce import run_all

    return run_all(args.preset, kernel=args.kernel, force=args.force, dry_run=args.dry_run, plan_file=args.plan,
                   draw_only=args.draw_only)


def _paper(args) -> int:
    from .report.paper import build

    for path in build(args.preset):
        print(f"wrote {path}")
    return 0


def _check_cache(args) -> None:
    """The analysis cache (under SCALPEL_ARTIFACTS) must be writable unless --no-cache."""
    from . import paths

    if not args.no_cache:
        paths.check_writable(paths.artifacts_dir() / "cache", "cache folder (SCALPEL_ARTIFACTS; or pass --no-cache)",
                             folder=True)


def _one_line(err: BaseException) -> str:
    """An error's message on one line (a YAML or hub message may span several)."""
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip()) or type(err).__name__


def _preset(name: str) -> str:
    """A --preset value: a preset or a world draw of one (tiny, tiny-w1, ...), else argparse's one-line error."""
    from .config import parse_preset

    try:
        parse_preset(name)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return name


def _comparison(sub, name: str, help_text: str, func):
    """A subcommand comparing checkpoints with a base: BASE CKPT [CKPT ...] --out FILE [--no-cache]."""
    p = sub.add_parser(name, help=help_text)
    p.add_argument("base", help="the base model: a local folder or a hub id")
    p.add_argument("ckpts", nargs="+", metavar="ckpt", help="checkpoints to compare with the base")
    p.add_argument("--out", required=True, help="output table, .csv or .parquet")
    p.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    p.set_defaults(func=func)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scalpel", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("base", help="build or reuse the miniature base model of a preset")
    p.add_argument("--preset", default="tiny", type=_preset)
    p.add_argument("--rebuild", action="store_true", help="pretrain again even if cached")
    p.set_defaults(func=_base)
    p = sub.add_parser("train", help="post-train with GRPO or SFT, saving 20 checkpoints plus the base")
    p.add_argument("--config", help="a recipe YAML (recipes/); the flags below override it")
    p.add_argument("--preset", default=None, type=_preset, help="default: tiny")
    p.add_argument("--method", default=None, help="grpo | sft1ep | sft3ep (default: grpo)")
    p.add_argument("--trainable", default=None, help="all | attention | qk | qk+lm_head | frozen-mid-mlp")
    p.add_argument("--frozen-layers", default=None, help="'first-last' for frozen-mid-mlp")
    p.add_argument("--train-seed", type=int, default=None, help="seed of the run (run id suffix -s{seed})")
    p.add_argument("--lr-factor", type=float, default=None,
                   help="multiply the method's learning rate (default 1; run id -lr{factor}x-s{seed})")
    p.add_argument("--run", default=None, help="run id (default: {method}[-{trainable}]-s{seed})")
    p.add_argument("--overwrite", action="store_true", help="replace a run folder that holds another config")
    p.set_defaults(func=_train)
    _comparison(sub, "weights", "weight change of checkpoints against a base, per layer and matrix", _weights)
    p = _comparison(sub, "passk", "pass@k of a base and checkpoints on MATH-500-like problems (unbiased estimator; "
                                  "vLLM when installed with a GPU, else transformers); also writes OUT_summary", _passk)
    p.add_argument("--data", required=True, help="problems with problem, solution and answer columns: a hub id "
                                                 "or a local .jsonl/.json/.csv/.parquet file")
    p.add_argument("--n", type=int, default=32, help="samples per problem (k = 1, 2, 4, ..., n)")
    p.add_argument("--problems", type=int, default=0, help="a fixed seeded subset of this many problems (0: all)")
    p.add_argument("--temperature", type=float, default=0.6, help="sampling temperature (Yue et al. 2025: 0.6)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (Yue et al. 2025: 0.95)")
    p.add_argument("--max-new-tokens", type=int, default=1500, help="completion budget (the paper's: 1500)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (the same for every model)")
    p.add_argument("--batch-size", type=int, default=512, help="rows decoded at once (prompts x samples)")
    p.add_argument("--engine", default="auto", choices=("auto", "vllm", "transformers"),
                   help="auto: vLLM when installed and a GPU is there, else transformers")
    p = _comparison(sub, "kl", "KL(base || checkpoint) on MATH-500 rendered as chat, teacher-forced", _kl)
    p.add_argument("--data", default="HuggingFaceH4/MATH-500",
                   help="MATH-500: a hub id or a local .jsonl/.parquet with problem, solution, answer")
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--template", default="authors", choices=("authors", "olmo", "own"),
                   help="chat rendering of the text: the authors' (system prompt injected, as the paper "
                        "ran; default), OLMo-2's own, or the base tokenizer's own")
    p = sub.add_parser("report", help="every lens on a run folder or checkpoints against a base: notebook, "
                                      "figures, tables and one HTML page")
    p.add_argument("base", help="the base model: a local folder or a hub id")
    p.add_argument("ckpts", nargs="+", metavar="run_dir_or_ckpt",
                   help="one run folder of `scalpel train`, or checkpoint folders or hub ids")
    p.add_argument("--out", required=True, help="output folder: report.ipynb, report.html, figures/, tables/")
    p.add_argument("--data", default=None, help="MATH-500-like data (a hub id or a local .jsonl/.parquet with "
                                                "problem, solution, answer) for KL and attention; without it "
                                                "those two lenses are skipped")
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--template", default="authors", choices=("authors", "olmo", "own"),
                   help="chat rendering of the text, as for `scalpel kl` (default: authors)")
    p.add_argument("--svd", default="auto", choices=("auto", "full", "randomized"),
                   help="SVDs of the rank and rotation lens: full (= auto, the default) or randomized top vectors")
    p.add_argument("--kernel", default=None, help="Jupyter kernel (default: the project's own)")
    p.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    p.set_defaults(func=_report)
    p = sub.add_parser("calibrate", help="measure the miniature setup against world v3's calibration targets")
    p.add_argument("--preset", default="tiny", type=_preset)
    p.add_argument("--no-probe", action="store_true", help="skip the teacher probe (the base's numbers only)")
    p.add_argument("--grpo", action="store_true", help="also train (or reuse) the GRPO runs and check their signal")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override of a candidate setting (repeatable; e.g. pretrain_steps=1800): its own "
                        "base; write the record elsewhere with SCALPEL_FIGURES=DIR")
    p.set_defaults(func=_calibrate)
    p = sub.add_parser("reproduce", help="execute the papermill plan (plan.yaml) in dependency order")
    p.add_argument("--preset", default="tiny", type=_preset)
    p.add_argument("--kernel", default=None, help="Jupyter kernel (default: the project's own)")
    p.add_argument("--force", action="store_true", help="run every step, even those that are up to date")
    p.add_argument("--dry-run", action="store_true", help="list the steps and which would run; run nothing")
    p.add_argument("--plan", default=None, help="another plan file (default: plan.yaml at the repository root)")
    p.add_argument("--draw-only", action="store_true",
                   help="run this preset's own world draw only (draw 0's claims then combine the other draws' "
                        "figures/<draw>/numbers.json as left by `scalpel reproduce --preset <draw>`)")
    p.set_defaults(func=_reproduce)

    p = sub.add_parser("paper", help="build the reproduction paper from a preset's numbers.json")
    p.add_argument("--preset", default="tiny", type=_preset)
    p.set_defaults(func=_paper)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ScalpelError as err:  # bad input, a refused run folder, a diverged run: one line, exit 2
        print(f"scalpel: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # a file that could not be read or written after the checks passed (disk full, ...)
        print(f"scalpel: {type(err).__name__}: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
