"""Formulas typeset at build time (report.mathml): pages that show them with no network.

The report page (report.diagnose.to_html) must carry MathML, no MathJax script and no raw TeX;
a headless Chromium, its network namespace empty where it can be, must lay a fraction out as a
fraction (taller than a line of text), which it only does for MathML it renders itself.
"""

import re
import shutil
import subprocess

import mistune
import nbformat
import pytest

from scalpel_core.report import diagnose, mathml

MARKDOWN = ("The change is $\\lVert W_\\text{ckpt} - W_\\text{base}\\rVert_F$ per matrix, within $10^{-3}$:\n\n"
            "$$\\text{change} = \\frac{\\lVert \\Delta W\\rVert_F}{\\lVert W_\\text{base}\\rVert_F}$$\n\n"
            "Prices $5 and $6 stay, so do \\$x$ and `$code$`.\n")


def body_text(html):
    """The page without its scripts and styles."""
    return re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)


def test_typeset_converts_formulas_and_leaves_the_rest():
    out = mathml.typeset(MARKDOWN)
    assert out.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">') == 2
    assert out.count('display="block"') == 1 and "<mfrac>" in out and "<msup><mn>10</mn>" in out
    assert "Prices $5 and $6 stay, so do \\$x$ and `$code$`." in out  # amounts, escapes and code untouched
    assert mathml.to_mathml("\\begin{nothing}") is None and mathml.typeset("$\\begin{x}$") == "$\\begin{x}$"
    html = mistune.html(out)  # a renderer that keeps inline HTML: the MathML passes through whole
    assert html.count("<math ") == 3 and html.count("</math>") == 3 and "<code>$code$</code>" in html


def test_placeholders_survive_a_renderer_and_come_back():
    formulas = {}
    md = mathml.typeset("a $x_1*y_2*z$ b", formulas)
    assert "<math" not in md and list(formulas) == ["SCALPELMATH00000X"]
    assert mathml.restore(mistune.html(md), formulas) == f"<p>a {formulas['SCALPELMATH00000X']} b</p>\n"
    assert "*" not in formulas["SCALPELMATH00000X"].replace("&#42;", "")  # Markdown specials as entities


def page(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Report\n\n" + MARKDOWN),
                nbformat.v4.new_code_cell("show()", outputs=[nbformat.v4.new_output(
                    "display_data", data={"text/markdown": "an output with $\\sqrt{n}$", "text/plain": "x"})])]
    nbformat.write(nb, tmp_path / "report.ipynb")
    return diagnose.to_html(tmp_path / "report.ipynb", tmp_path / "report.html")


def test_the_report_page_has_mathml_and_no_mathjax(tmp_path):
    html = page(tmp_path).read_text()
    body = body_text(html)
    assert body.count("<math ") == 4 and "<msqrt>" in body  # cell and Markdown output
    assert "mathjax" not in html.lower() and "SCALPELMATH" not in html
    assert "\\frac" not in body and "\\lVert" not in body and "$\\" not in body  # no raw TeX left


def chromium():
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="no chromium here (tests/lab_check.py installs Debian's)")
def test_chromium_offline_lays_out_a_fraction(tmp_path):
    """The page, opened with no network, renders its display fraction two rows high."""
    html = page(tmp_path).read_text()
    probe = ("<script>addEventListener('load', () => { const f = document.querySelector('math[display=block] mfrac');"
             " const p = document.querySelector('h1 + p, p'); document.title = 'heights ' +"
             " Math.round(f.getBoundingClientRect().height) + ' ' + Math.round(parseFloat(getComputedStyle(p).lineHeight));"
             "});</script>")
    (tmp_path / "probe.html").write_text(html.replace("</body>", probe + "</body>"))
    isolate = ["unshare", "--net"] if shutil.which("unshare") and subprocess.run(
        ["unshare", "--net", "true"], capture_output=True).returncode == 0 else []
    cmd = [*isolate, chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=3000", "--dump-dom", (tmp_path / "probe.html").as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    fraction, line = map(int, re.search(r"<title>heights (\d+) (\d+)</title>", dom).groups())
    assert fraction > 1.5 * line, (fraction, line)  # numerator over denominator, not one line of text
