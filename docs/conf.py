"""Sphinx configuration of the skmm documentation.

Build with ``make docs`` (warnings are errors); ``tests/test_docs.py`` builds
it the same way. Two markers in the sources are expanded here:

* ``skmm-results`` markers: a line ``<!-- skmm-results: PATTERN -->`` in a
  Markdown page becomes a MyST ``include`` of every ``benchmarks/results``
  Markdown file matching ``PATTERN`` (and a ``figure`` of every PNG), so that
  measured numbers are never copied by hand;
* ``<!-- skmm-preset-table: module.Class PRESET -->`` becomes a table of a
  published preset (e.g. ``PAPER_PRESET``) next to the estimator's defaults.

The examples gallery (``examples/plot_*.py``) is executed by sphinx-gallery
in this process and written to ``auto_examples/``. Its threads: OpenMP
(torch's intra-op pool, scikit-learn's t-SNE) runs ``SKMM_DOCS_THREADS``
threads, 1 by default, so that the examples' small models do not spin
threads against each other or against other processes on a loaded machine.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

# before torch or scikit-learn start their thread pools
os.environ["OMP_NUM_THREADS"] = os.environ.get("SKMM_DOCS_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import skmm  # noqa: E402

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
RESULTS = ROOT / "benchmarks" / "results"
EXAMPLES = ROOT / "examples"

project = "skmm"
author = "skmm developers"
copyright = "skmm developers"  # noqa: A001 - the name Sphinx reads
release = version = skmm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]

# sphinx-gallery: every examples/plot_*.py is run and its figures shown, but
# those named here, which are shown without running (their API is not on main
# yet): remove a name to run it (tests/test_docs.py then checks its figure).
# Each example should take well under a minute on 2 CPU cores
# (auto_examples/sg_execution_times.rst).
EXAMPLES_NOT_RUN: tuple[str, ...] = ()
_not_run = "|".join(re.escape(name) for name in EXAMPLES_NOT_RUN) or "$^"
sphinx_gallery_conf = {
    "examples_dirs": os.path.relpath(EXAMPLES, DOCS),
    "gallery_dirs": "auto_examples",
    "filename_pattern": rf"/(?!(?:{_not_run})$)plot_",
    "ignore_pattern": r"__init__\.py|ruff\.toml",
    "within_subsection_order": "FileNameSortKey",  # plot_1_..., plot_2_...
    "download_all_examples": False,
    "remove_config_comments": True,  # e.g. "# sphinx_gallery_thumbnail_number = 2"
    "image_scrapers": ("matplotlib",),
    "doc_module": ("skmm",),
    "reference_url": {"skmm": None},
    "show_memory": False,
}

# autodoc / autosummary / numpydoc: one page per object, no class-member tables
# from numpydoc (the class template lists the methods), no network.
autosummary_generate = ["api.rst"]
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = f"skmm {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
html_last_updated_fmt = None


# ---------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------
def _results_markdown(docname: str, pattern: str) -> str:
    """MyST directives that include the results files matching ``pattern``."""
    here = (DOCS / docname).parent
    rel = Path(os.path.relpath(RESULTS, here)).as_posix()
    names = sorted(p.name for p in RESULTS.glob("*") if fnmatch.fnmatch(p.name, pattern))
    tables = [n for n in names if n.endswith(".md")]
    figures = [n for n in names if n.endswith(".png")]
    if not tables and not figures:
        return (f"```{{note}}\nNo results matching `{pattern}` in `benchmarks/results/` yet: "
                "run the benchmark command of this page to produce them.\n```\n")
    parts = []
    for name in tables:
        parts.append(f"```{{include}} {rel}/{name}\n:heading-offset: 2\n```\n")
    for name in figures:
        parts.append(f"```{{figure}} {rel}/{name}\n:alt: {name}\n:width: 90%\n\n"
                     f"`benchmarks/results/{name}`\n```\n")
    return "\n".join(parts)


def _preset_table(spec: str) -> str:
    """A Markdown table of a published preset next to skmm's defaults.

    ``spec`` is ``"module.Class PRESET_NAME"``; both come from the code, so the
    table cannot drift from it.
    """
    import importlib

    path, preset_name = spec.split()
    module_name, class_name = path.rsplit(".", 1)
    module = importlib.import_module(module_name)
    preset = getattr(module, preset_name)
    defaults = getattr(module, class_name)().get_params()
    rows = ["| parameter | paper | skmm default |", "| --- | --- | --- |"]
    for key, value, default in preset_rows(preset, defaults):
        rows.append(f"| `{key}` | `{value}` | `{default}` |")
    return "\n".join(rows) + "\n"


def preset_rows(preset: dict, defaults: dict):
    """``(parameter, paper, default)`` of a preset; an encoder is its class, then each
    of its settings that differs from the class's default (``image_encoder__channels``)."""
    for key, value in preset.items():
        if not hasattr(value, "get_params"):
            yield key, repr(value), repr(defaults.get(key))
            continue
        yield key, type(value).__name__, repr(defaults.get(key))
        own = type(value)().get_params(deep=False) if key != "modalities" else {}
        for name, setting in value.get_params(deep=False).items():
            if setting != own.get(name):
                yield f"{key}__{name}", repr(setting), repr(own.get(name))


def _expand_markers(app, docname, source):
    lines = source[0].splitlines(keepends=True)
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("<!-- skmm-results:") and stripped.endswith("-->"):
            pattern = stripped[len("<!-- skmm-results:"):-3].strip()
            out.append(_results_markdown(docname, pattern))
        elif stripped.startswith("<!-- skmm-preset-table:") and stripped.endswith("-->"):
            out.append(_preset_table(stripped[len("<!-- skmm-preset-table:"):-3].strip()))
        else:
            out.append(line)
    source[0] = "".join(out)


def _always_reread(app, env, added, changed, removed):
    # results files may appear or change between builds: re-read the pages
    # that glob them, so that an incremental `make docs` shows them too
    return [name for name in env.found_docs if name in {"benchmarks", "scaling",
                                                        "user_guide/crvae",
                                                        "user_guide/mmeda",
                                                        "user_guide/common_space"}]


def _skip_foreign_members(app, what, name, obj, skip, options):
    # Class pages list skmm's own methods (and those inherited from skmm base
    # classes), not the ones of scikit-learn, skorch, torch or builtins: their
    # docstrings point into those projects' own docs.
    if what != "class":
        return None
    target = obj.fget if isinstance(obj, property) else obj
    if not (callable(target) or isinstance(obj, property)):
        return None
    module = getattr(target, "__module__", None) or ""
    return True if not module.startswith("skmm") else None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("source-read", _expand_markers)
    app.connect("env-get-outdated", _always_reread)
    return {"parallel_read_safe": True}
