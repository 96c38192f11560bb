"""The documentation builds with warnings as errors (what ``make docs`` runs)."""

from __future__ import annotations

import ast
import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results"
EXAMPLES = ROOT / "examples"

for _name in ("sphinx", "numpydoc", "myst_parser", "pydata_sphinx_theme", "sphinx_gallery"):
    pytest.importorskip(_name, reason="the docs extra is not installed")


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build a copy of docs/ (with the README, the results it includes, the examples).

    A copy, so that the autosummary stubs and the gallery (whose examples run
    here) are not written into the checkout.
    """
    tmp = tmp_path_factory.mktemp("docs")
    shutil.copytree(DOCS, tmp / "docs", ignore=shutil.ignore_patterns(
        "_build", "generated", "auto_examples", "sg_execution_times.rst"))
    shutil.copytree(EXAMPLES, tmp / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", tmp / "README.md")
    if RESULTS.is_dir():
        shutil.copytree(RESULTS, tmp / "benchmarks" / "results")
    out = tmp / "html"
    warnings = tmp / "warnings.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
         "-w", str(warnings), str(tmp / "docs"), str(out)],
        capture_output=True, text=True, cwd=tmp,
    )
    log = warnings.read_text() if warnings.exists() else ""
    return proc, out, log + proc.stderr[-4000:]


def _text(path: Path) -> str:
    """The visible text of an HTML page, whitespace collapsed."""
    raw = re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))
    return " ".join(html.unescape(raw).split())


@pytest.mark.slow
def test_docs_build_without_warnings(built_docs):
    proc, out, log = built_docs
    assert proc.returncode == 0, f"sphinx failed (warnings are errors):\n{log}"
    for page in ("index.html", "installation.html", "input_contract.html", "api.html",
                 "datasets.html", "benchmarks.html", "user_guide/crvae.html",
                 "user_guide/mmeda.html", "user_guide/common_space.html",
                 "generated/skmm.CRVAEEmbedder.html",
                 "generated/skmm.inputs.validate_frame.html", "auto_examples/index.html"):
        assert (out / page).is_file(), page


def _examples_not_run() -> set[str]:
    """``EXAMPLES_NOT_RUN`` of docs/conf.py (read, not imported: it sets the threads)."""
    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(getattr(t, "id", None) == "EXAMPLES_NOT_RUN" for t in targets):
            return {Path(name).stem for name in ast.literal_eval(node.value)}
    raise AssertionError("docs/conf.py has no EXAMPLES_NOT_RUN")


@pytest.mark.slow
def test_every_example_runs_and_shows_its_figure(built_docs):
    proc, out, log = built_docs
    assert proc.returncode == 0, log
    gallery = (out / "auto_examples" / "index.html").read_text(encoding="utf-8")
    examples = sorted(p.stem for p in EXAMPLES.glob("plot_*.py"))
    not_run = _examples_not_run()
    assert examples and not_run <= set(examples), not_run
    for name in examples:
        page = out / "auto_examples" / f"{name}.html"
        assert page.is_file(), name
        assert f"{name}.html" in gallery, name  # listed in the gallery
        if name in not_run:  # shown with its code, without output
            continue
        text = page.read_text(encoding="utf-8")
        # sphinx-gallery shows a failed example's traceback instead of its figures
        assert "Traceback (most recent call last)" not in text, name
        figures = re.findall(rf'src="\.\./_images/(sphx_glr_{re.escape(name)}_\d+\.png)"', text)
        assert figures, f"{name}: no figure on its page"
        for figure in figures:
            assert (out / "_images" / figure).stat().st_size > 1000, figure
    # the timing table of the gallery lists every example
    times = (out / "auto_examples" / "sg_execution_times.html").read_text(encoding="utf-8")
    for name in set(examples) - not_run:
        assert f"{name}.py" in times, name


@pytest.mark.slow
def test_docs_content_comes_from_the_sources(built_docs):
    proc, out, log = built_docs
    assert proc.returncode == 0, log
    # the API page documents the estimator's methods, from its docstrings
    api = (out / "generated" / "skmm.CRVAEEmbedder.html").read_text(encoding="utf-8")
    for member in ("fit", "transform", "inverse_transform", "paper"):
        assert f'id="skmm.CRVAEEmbedder.{member}"' in api
    # the two commands come from the README
    install = _text(out / "installation.html")
    assert "make demo" in install and "make test" in install
    # every results table is included as it is: its command line is on the page
    bench = _text(out / "benchmarks.html")
    for md in sorted(RESULTS.glob("*.md")):
        for line in md.read_text(encoding="utf-8").splitlines():
            if line.startswith(("Command:", "Machine:")):
                assert " ".join(line.replace("`", "").split()) in bench, (md.name, line)
    # the paper preset table is generated from PAPER_PRESET
    from skmm.embedders.crvae import PAPER_PRESET

    sys.path.insert(0, str(ROOT / "docs"))
    from conf import preset_rows

    crvae = _text(out / "user_guide" / "crvae.html")
    for key, value, _ in preset_rows(PAPER_PRESET, {}):
        assert f"{key} {value}" in crvae, key
