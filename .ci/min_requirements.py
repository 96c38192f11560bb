"""Print the floors of pyproject.toml as exact pins: the constraints of ``make test-min``.

The rule: every ``NAME>=X`` of the main ``dependencies`` and of the extras named on the
command line (default: datasets, plot, dev) becomes ``NAME==X``. A requirement without a
``>=`` floor is an error, so that no dependency escapes the check. torch's floor is the
Makefile's pin (its CPU build, installed first and named again on every pip command); were
they to differ, pip would refuse the pair, and say so.

    python .ci/min_requirements.py [EXTRA ...] > requirements-min.txt
"""

import re
import sys
import tomllib
from pathlib import Path


def floors(extras):
    project = tomllib.loads(Path(__file__).resolve().parents[1].joinpath(
        "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    pins = []
    for req in reqs:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)\s*", req)
        if m is None:
            raise SystemExit(f"{req!r}: every requirement needs a single '>=' floor")
        pins.append(f"{m[1]}=={m[3]}")
    return pins


if __name__ == "__main__":
    extras = sys.argv[1:] or ["datasets", "plot", "dev"]
    print(f"# Generated from pyproject.toml by .ci/min_requirements.py {' '.join(extras)}:")
    print("# every '>=X' floor becomes '==X'. Do not edit by hand: `make test-min` rewrites it.")
    print("\n".join(floors(extras)))
