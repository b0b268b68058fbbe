"""TeX formulas in Markdown typeset as MathML when a page is built, so that it shows them offline.

A self-contained HTML page (``scalpel report``'s, the paper's) cannot rely on MathJax from a
CDN: opened without a network it shows raw TeX. Browsers render MathML themselves (Chromium
since 109, Firefox, Safari), so the formulas are converted here, once, with ``latex2mathml``::

    from scalpel_core.report import mathml
    html = mistune.html(mathml.typeset(markdown_text))     # $...$ and $$...$$ as <math> elements
    formulas = {}                                          # or, for a renderer that mangles inline MathML:
    html = mathml.restore(render(mathml.typeset(markdown_text, formulas)), formulas)

Code spans and fenced code keep their dollars; so do ``\\$`` and amounts like ``$5 and $6``
(an inline formula opens with ``$`` followed by a non-space and closes with a non-space then ``$``
not followed by a digit, as pandoc reads them). A formula ``latex2mathml`` cannot convert is left
as its TeX.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_DISPLAY = re.compile(r"(?<!\\)\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?!\d)")
_TEXT = re.compile(r">([^<]+)<")
_MARKDOWN_SPECIAL = {c: f"&#{ord(c)};" for c in "*_`[]\\$~"}  # inside MathML text: not Markdown


def to_mathml(tex: str, display: bool = False) -> str | None:
    """``tex`` as one ``<math>`` element on one line (None when it cannot be converted)."""
    from latex2mathml.converter import convert

    try:
        out = convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - latex2mathml raises many kinds; the TeX then stays as written
        return None
    out = out.replace("\n", "")
    return _TEXT.sub(lambda m: ">" + "".join(_MARKDOWN_SPECIAL.get(c, c) for c in m.group(1)) + "<", out)


def typeset(markdown: str, formulas: dict[str, str] | None = None) -> str:
    """``markdown`` with every ``$$display$$`` and ``$inline$`` formula outside code as MathML; with
    ``formulas`` (a dict), as a plain-word placeholder instead, its MathML kept in ``formulas`` for
    :func:`restore` after a Markdown renderer that would mangle inline MathML (nbconvert's)."""
    def put(mathml: str) -> str:
        if formulas is None:
            return mathml
        key = f"SCALPELMATH{len(formulas):05d}X"
        formulas[key] = mathml
        return key

    def display(m):
        out = to_mathml(m.group(1), display=True)
        return m.group(0) if out is None else f"\n\n{put(out)}\n\n"

    def inline(m):
        out = to_mathml(m.group(1))
        return m.group(0) if out is None else put(out)

    parts = _CODE.split(markdown)
    return "".join(p if i % 2 else _INLINE.sub(inline, _DISPLAY.sub(display, p)) for i, p in enumerate(parts))


def restore(html: str, formulas: dict[str, str]) -> str:
    """``html`` with the placeholders of :func:`typeset` replaced by their MathML."""
    return re.sub(r"SCALPELMATH\d{5}X", lambda m: formulas.get(m.group(0), m.group(0)), html)


def typeset_notebook(nb, formulas: dict[str, str]):
    """The notebook node ``nb`` (changed in place and returned) with the formulas of its Markdown
    cells and Markdown outputs as placeholders (:func:`typeset`), their MathML in ``formulas``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = typeset(cell.source, formulas)
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/markdown" in data:
                md = data["text/markdown"]
                data["text/markdown"] = typeset("".join(md) if isinstance(md, list) else md, formulas)
    return nb
