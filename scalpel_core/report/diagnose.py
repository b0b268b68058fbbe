"""A report on anyone's run: every lens against a base, as one executed notebook and one HTML page.

    scalpel report BASE RUN_DIR --out DIR --data math500.jsonl    # a run folder of `scalpel train`
    scalpel report BASE CKPT [CKPT ...] --out DIR                 # model folders or hub ids
    diagnose.report(base, [run_dir], out_dir, data="math500.jsonl")   # the same, from Python

BASE is a Hugging Face model folder or hub id. The rest is either one run folder of this project
(its manifest; the trained checkpoints, step > 0, are compared with BASE and keep their step and
fraction of training, so the over-training panels work) or any number of model folders or hub ids,
each labelled by its folder name (made unique) at fraction 1.0. Every input is checked before any
work: the output folder, the kernel, the data, then every model folder (headers only).

``notebooks/report.ipynb`` runs with papermill into ``DIR/report.ipynb``, writing its figures under
``DIR/figures/`` (PDF and PNG) and its tables under ``DIR/tables/`` (CSV); ``DIR/report.html`` is the
executed notebook as one page, images embedded, code hidden. Without ``data`` the KL and attention
lenses (which read text) are skipped, with a note in the report. The notebook tells the story; the
tables and figures come from the functions below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .. import paths
from ..checkpoints import MANIFEST, check_model_folder, list_checkpoints
from ..config import ScalpelError

NOTEBOOK = "report.ipynb"  # under notebooks/; also the executed copy's name in DIR
HTML = "report.html"
TEMPLATES = ("authors", "olmo", "own")  # as `scalpel kl --template`
SVDS = ("auto", "full", "randomized")
SPECTRA_AT = (0.25, 0.5, 0.75, 1.0)  # of a run, the spectra lens reads the checkpoints nearest these
_STEP = re.compile(r"(?:step|checkpoint)-0*(\d+)$")  # step-000000008 (ours), checkpoint-500 (HF Trainer)


class ReportError(ScalpelError, ValueError):
    """Inputs a report cannot be made of, or a report notebook that failed."""


def check_out(out) -> Path:
    """``out`` if it can be written as a folder (nothing is created yet)."""
    return paths.check_writable(Path(out), "--out", folder=True)


def check_kernel(kernel: str | None = None) -> str:
    """``kernel`` (default: the report notebook's own, the project's) if Jupyter has it."""
    from jupyter_client.kernelspec import KernelSpecManager

    own = json.loads((paths.notebooks_dir() / NOTEBOOK).read_text())["metadata"]["kernelspec"]["name"]
    name = kernel or own
    specs = KernelSpecManager().find_kernel_specs()
    if name not in specs:
        raise ReportError(f"no Jupyter kernel named {name!r}; installed: {', '.join(sorted(specs)) or 'none'} "
                          f"(`make install` registers {own!r}; choose one with --kernel)")
    return name


def _step(name: str) -> int | None:
    found = _STEP.search(name)
    return int(found.group(1)) if found else None


def unique_labels(names: list[str], longer: list[str]) -> list[str]:
    """``names`` where unique; a name shared by several gets its ``longer`` form (the parent folder
    too: ``grpo-s0/step-000000008``), and a number if even that is shared."""
    labels = [long if names.count(n) > 1 else n for n, long in zip(names, longer)]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if labels.count(label) == 1 else f"{label} #{seen[label]}")
    return out


def _run_folder(path: Path) -> list[list]:
    """[label, folder, step, fraction] of a run's trained checkpoints (step > 0), each checked."""
    trained = [e for e in list_checkpoints(path) if e["step"] > 0]
    if not trained:
        raise ReportError(f"run folder {path} has no trained checkpoints yet (only the step-0 base); "
                          "train it first or pass checkpoint folders")
    return [[e["path"].name, str(check_model_folder(e["path"], "checkpoint")), int(e["step"]), float(e["fraction"])]
            for e in trained]


def resolve(base, refs, data: bool = False) -> tuple[str, list[list], str]:
    """(base folder, [[label, folder, step, fraction], ...], run name or ``""``), every folder checked.

    One ref that is a run folder (``manifest.json``) gives its trained checkpoints; otherwise each
    ref is a model folder or hub id (step from a ``step-N``/``checkpoint-N`` name, else None;
    fraction 1.0). ``data``: the base must carry a tokenizer and a chat template (KL, attention).
    """
    from ..lenses import weights

    refs = [str(r) for r in refs]
    if not refs:
        raise ReportError("no checkpoints to compare: pass a run folder or checkpoint folders after BASE")
    base_dir = check_model_folder(weights.resolve(base), "base", tokenizer=data, chat_template=data)
    one = Path(refs[0]).expanduser()
    if len(refs) == 1 and one.is_dir() and (one / MANIFEST).is_file():
        return str(base_dir), _run_folder(one.resolve()), one.resolve().name
    if len(refs) == 1 and one.is_dir() and not (one / "config.json").is_file():
        raise ReportError(f"{one} is neither a run folder of `scalpel train` (no manifest.json) nor a Hugging "
                          "Face model folder (no config.json); pass a run folder or checkpoint folders")
    folders = [check_model_folder(weights.resolve(r), "checkpoint") for r in refs]
    names, longer = zip(*map(_names, refs))
    labels = unique_labels(list(names), list(longer))
    return str(base_dir), [[label, str(f), _step(n), 1.0] for label, f, n in zip(labels, folders, names)], ""


def _names(ref: str) -> tuple[str, str]:
    """A checkpoint's label and its longer form: ``step-8`` and ``grpo-s0/step-8`` of a folder, the
    repository's name and the whole id of a hub id."""
    path = Path(ref).expanduser()
    if path.is_dir():
        path = path.resolve()
        return path.name, f"{path.parent.name}/{path.name}"
    return ref.rstrip("/").split("/")[-1], ref


def report(base, refs, out, data: str | None = None, limit: int | None = None, template: str = "authors",
           svd: str = "auto", kernel: str | None = None, use_cache: bool = True, progress: bool = True,
           batch_size: int = 16, device: str | None = None) -> list[Path]:
    """Check every input, execute the report notebook into ``out`` and convert it to HTML; returns
    the executed notebook and the page. ``progress``: papermill's bar over the cells."""
    out = check_out(out)
    if template not in TEMPLATES:
        raise ReportError(f"unknown template {template!r}; valid: {', '.join(TEMPLATES)}")
    if svd not in SVDS:
        raise ReportError(f"unknown svd {svd!r}; valid: {', '.join(SVDS)}")
    if limit is not None and limit < 1:
        raise ReportError(f"--limit {limit}: give at least 1 problem (or no --limit for all)")
    kernel = check_kernel(kernel)
    if data:
        from ..data import hub

        try:
            hub.check_source(data, hub.MATH500_COLUMNS, split="test")
        except hub.DataError as err:
            raise hub.DataError(f"--data: {err}") from None
    base_dir, checkpoints, run = resolve(base, refs, data=bool(data))
    if data and Path(data).expanduser().exists():  # the notebook runs in ``out``: a local path made absolute
        data = str(Path(data).expanduser().resolve())
    parameters = {"base": base_dir, "checkpoints": checkpoints, "run": run, "out_dir": str(out.resolve()),
                  "data": data or "", "limit": limit, "template": template, "svd": svd, "use_cache": use_cache,
                  "progress": False, "batch_size": batch_size, "device": device}  # no bars inside the page
    out.mkdir(parents=True, exist_ok=True)
    executed = out / NOTEBOOK
    execute(executed, parameters, kernel, progress)
    return [executed, to_html(executed, out / HTML)]


def execute(executed: Path, parameters: dict, kernel: str, progress: bool = True) -> Path:
    """Run ``notebooks/report.ipynb`` with ``parameters`` into ``executed`` (kept if a cell fails)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(str(paths.notebooks_dir() / NOTEBOOK), str(executed), parameters=parameters,
                            kernel_name=kernel, cwd=str(executed.parent),
                            progress_bar={"desc": "report", "leave": False} if progress else False)
    except PapermillExecutionError as err:
        first = next((ln for ln in err.source.splitlines() if ln.strip()), "")
        raise ReportError(f"the report failed in cell In [{err.exec_count}] ({first!r}): {err.ename}: "
                          f"{err.evalue}; the partly executed notebook is {executed}") from None
    except Exception as err:  # noqa: BLE001 - the kernel died or did not start: name it
        raise ReportError(f"the report notebook could not run ({type(err).__name__}: {err}); "
                          f"the partly executed notebook, if any, is {executed}") from err
    return executed


# JupyterLab's page without its MathJax (a CDN script): the formulas are MathML already (report.mathml)
OFFLINE_TEMPLATE = ("{%- extends 'lab/index.html.j2' -%}\n"
                    "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n")


def to_html(executed: Path, page: Path) -> Path:
    """The executed notebook as one self-contained HTML page: outputs and prose, code hidden,
    images embedded, formulas typeset as MathML (shown offline; no script fetched)."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    from .mathml import restore, typeset_notebook

    exporter = HTMLExporter(embed_images=True, exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, template_file="scalpel_offline.html.j2",
                            extra_loaders=[jinja2.DictLoader({"scalpel_offline.html.j2": OFFLINE_TEMPLATE})])
    formulas: dict[str, str] = {}  # nbconvert's Markdown mangles inline MathML: placeholders, then the MathML
    nb = typeset_notebook(nbformat.read(executed, as_version=4), formulas)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "scalpel report"}})  # the page's title
    return paths.atomic_write(page, restore(body, formulas))


# --- what the notebook calls -------------------------------------------------------------------

def checkpoint_table(checkpoints: list[list], run: str = "") -> pd.DataFrame:
    """run, checkpoint, step, fraction, path: one row per checkpoint (``run``: the run folder's
    name, or each checkpoint its own run)."""
    t = pd.DataFrame(checkpoints, columns=["checkpoint", "path", "step", "fraction"])
    t.insert(0, "run", run or t.checkpoint)
    t["step"] = t.step.astype("Int64")
    return t


def _annotate(table: pd.DataFrame, checkpoints: list[list], run: str) -> pd.DataFrame:
    """``table`` (a ``checkpoint`` column) with run, step and fraction in front."""
    info = checkpoint_table(checkpoints, run).drop(columns="path")
    return info.merge(table, on="checkpoint", how="right")


def nearest(checkpoints: list[list], fractions) -> list[list]:
    """The checkpoints nearest each of ``fractions`` of training, in their order."""
    chosen = {min(range(len(checkpoints)), key=lambda i: abs(checkpoints[i][3] - f)) for f in fractions}
    return [c for i, c in enumerate(checkpoints) if i in chosen]


def weight_table(base: str, checkpoints: list[list], run: str = "", use_cache: bool = True,
                 progress: bool = False) -> pd.DataFrame:
    """Weight change and update sparsity (one read) of every checkpoint against ``base``."""
    from ..lenses import weights

    t = weights.compare(base, [c[1] for c in checkpoints], [c[0] for c in checkpoints], use_cache=use_cache,
                        progress=progress, metrics=weights.METRICS + weights.SPARSITY)
    return _annotate(t, checkpoints, run)


def spectra_table(base: str, checkpoints: list[list], run: str = "", svd: str = "auto", use_cache: bool = True,
                  progress: bool = False, device: str = "cpu") -> pd.DataFrame:
    """Update rank, principal angles and spectrum shift: of a run, the checkpoints nearest
    :data:`SPECTRA_AT` of training; otherwise every checkpoint."""
    from ..lenses import spectra

    chosen = nearest(checkpoints, SPECTRA_AT) if run else checkpoints
    t = spectra.compare(base, [c[1] for c in chosen], [c[0] for c in chosen], use_cache=use_cache,
                        progress=progress, device=device, svd=svd)
    return _annotate(t, chosen, run)


def conversations(data: str, limit: int | None = None) -> list[list[dict]]:
    """The MATH-500-like set's [user: problem, assistant: solution] chats, the first ``limit``."""
    from ..data import hub

    chats = list(hub.load_math500(data)["messages"])
    return chats[:limit] if limit else chats


def _template(template: str) -> str | None:
    return None if template == "own" else template


def kl_table(base: str, checkpoints: list[list], chats, tokenizer, run: str = "", template: str = "authors",
             batch_size: int = 16, device: str | None = None, use_cache: bool = True,
             progress: bool = False) -> pd.DataFrame:
    """KL(base || checkpoint), teacher-forced on ``chats``, of every checkpoint."""
    from ..lenses import kl

    t = kl.curve(base, [(c[0], Path(c[1])) for c in checkpoints], chats, tokenizer, batch_size, device,
                 use_cache, progress, template=_template(template))
    return _annotate(t, checkpoints, run)


def attention_table(base: str, checkpoints: list[list], chats, tokenizer, run: str = "",
                    template: str = "authors", batch_size: int = 16, device: str | None = None,
                    use_cache: bool = True, progress: bool = False) -> pd.DataFrame:
    """Attention shift per layer x head: of a run, its last checkpoint; otherwise every checkpoint."""
    from ..lenses import attention

    chosen = nearest(checkpoints, (1.0,)) if run else checkpoints
    t = attention.compare(base, [(c[0], Path(c[1])) for c in chosen], chats, tokenizer, batch_size, device,
                          use_cache, progress, template=_template(template))
    return _annotate(t, chosen, run)


def groups(table: pd.DataFrame) -> dict[str, list[str]]:
    """{group: [run, ...]} of a table's runs, as :mod:`.inside` groups them (a run id without its seed)."""
    from . import inside

    out: dict[str, list[str]] = {}
    for r in dict.fromkeys(table.run):
        out.setdefault(inside.group_of(r), []).append(r)
    return out


def overview(weight_t: pd.DataFrame, spectra_t: pd.DataFrame, kl_t=None, attention_t=None) -> pd.DataFrame:
    """One row per checkpoint: the means over layers and matrices (heads) of each lens's headline
    number; empty where a lens did not read that checkpoint."""
    from . import inside

    def mean_of(t, metric):
        return t[t.metric == metric].groupby("checkpoint", sort=False).value.mean().rename(metric)

    cols = [mean_of(weight_t, m) for m in ("rel_frobenius", "frac_unchanged", "frac_unchanged_bf16",
                                           "frac_within_tol")]
    cols += [mean_of(spectra_t, m) for m in ("rank_fraction", "effective_rank_fraction", inside.ROTATION,
                                             "spectrum_shift")]
    if kl_t is not None:
        cols.append(kl_t.set_index("checkpoint").kl)
    if attention_t is not None:
        cols.append(attention_t.groupby("checkpoint", sort=False).jsd.mean().rename("attention_jsd"))
        cols.append(attention_t.groupby("checkpoint", sort=False).entropy_change.mean())
    info = weight_t[["run", "checkpoint", "step", "fraction"]].drop_duplicates().set_index("checkpoint")
    return info.join(pd.concat(cols, axis=1)).reset_index()[["run", "checkpoint", "step", "fraction",
                                                            *[c.name for c in cols]]]


def kl_figure(kl_t: pd.DataFrame, over_training: bool):
    """KL per checkpoint: over % of training for a run, else one bar per checkpoint."""
    import matplotlib.pyplot as plt

    from . import plots  # noqa: F401 - the project's figure style

    fig, ax = plt.subplots(figsize=(5.5, 3.4) if over_training else (max(4.0, 0.8 * len(kl_t) + 2), 3.4))
    if over_training:
        ax.plot(100 * kl_t.fraction, kl_t.kl, marker="o", ms=4)
        ax.set_xlabel("% of training")
        ax.set_xlim(0, 105)
    else:
        ax.bar(range(len(kl_t)), kl_t.kl)
        ax.set_xticks(range(len(kl_t)), kl_t.checkpoint, rotation=25, ha="right")
    ax.set_ylabel("KL(base || checkpoint), nats/token")
    ax.set_title(f"KL divergence on {kl_t.n.iloc[0]} problems, teacher-forced", fontsize=10)
    fig.tight_layout()
    return fig


def write_table(table: pd.DataFrame, out_dir, name: str) -> Path:
    """``out_dir/tables/{name}.csv``."""
    folder = Path(out_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / f"{name}.csv", index=False)
    return folder / f"{name}.csv"


def figures_dir(out_dir) -> Path:
    return Path(out_dir) / "figures"
