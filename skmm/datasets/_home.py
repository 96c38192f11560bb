"""Where skmm keeps the datasets it builds: the data home."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["get_data_home"]

#: Environment variable that overrides the default data home.
DATA_HOME_ENV = "SKMM_DATA"


def get_data_home(data_home: str | os.PathLike | None = None) -> str:
    """Return the folder where skmm caches datasets, creating it if needed.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the environment variable ``SKMM_DATA`` is
        used if set, else ``~/skmm_data``. ``~`` is expanded.

    Returns
    -------
    data_home : str
        Absolute path of the (now existing) folder.

    Examples
    --------
    >>> from skmm.datasets import get_data_home
    >>> home = get_data_home("/tmp/skmm_example_home")
    >>> home
    '/tmp/skmm_example_home'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or Path("~") / "skmm_data"
    path = Path(os.path.abspath(Path(data_home).expanduser()))
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
