import re
import time

import numpy as np
import pytest

from skmm.datasets import make_frames
from skmm.datasets.frames import SCENES

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def frames():
    return make_frames(random_state=0)


def test_columns_and_types(frames):
    assert frames.shape == (90, 6)
    assert list(frames.columns) == ["image", "text", "text_zh", "scene", "shot", "frame"]
    for img in frames["image"]:
        assert isinstance(img, np.ndarray)
        assert img.shape == (120, 200, 3) and img.dtype == np.uint8
        assert img.std() > 20  # a scene, not a flat colour
    assert set(frames["scene"]) <= set(SCENES)
    assert frames["shot"].dtype.kind == "i" and frames["frame"].dtype.kind == "i"


def test_a_short_video_of_all_scenes(frames):
    shots = frames["shot"].to_numpy()
    assert shots[0] == 0 and set(np.diff(shots)) <= {0, 1}  # shots are runs of rows
    assert set(frames["scene"]) == set(SCENES)  # 90 frames show every scene
    for _, shot in frames.groupby("shot"):
        assert shot["scene"].nunique() == 1
        assert shot["frame"].tolist() == list(range(len(shot)))
    lengths = frames.groupby("shot").size()
    assert (lengths.iloc[:-1] >= 8).all() and (lengths <= 15).all()


def test_captions_in_english_and_chinese(frames):
    for en, zh in zip(frames["text"], frames["text_zh"]):
        assert isinstance(en, str) and len(en.split()) >= 5 and not CJK.search(en)
        assert isinstance(zh, str) and len(CJK.findall(zh)) >= 5
        assert " " not in zh
        assert ('"' in en) == ("“" in zh)  # the same line is said in both
    assert frames["text"].nunique() > 45 and frames["text_zh"].nunique() > 45


def test_jieba_segments_the_chinese():
    from skmm.inputs import jieba_tokenize

    zh = make_frames(10, image_size=32, random_state=1)["text_zh"]
    for text in zh:
        tokens = jieba_tokenize(text)
        assert len(tokens) >= 4 and all(token in text for token in tokens)
        assert any(len(token) > 1 and CJK.search(token) for token in tokens)  # words, not chars


def test_the_caption_says_what_is_moving(frames):
    zh_of = {"红色": "red", "蓝色": "blue", "黄色": "yellow", "白色": "white", "绿色": "green",
             "黑色": "black"}
    things = re.compile(r"\b(red|blue|yellow|white|green|black) (?:car|coat|shirt|apron|sail|"
                        r"ball|cup)\b")
    things_zh = re.compile(r"(红色|蓝色|黄色|白色|绿色|黑色)的?"
                           r"(?:汽车|外套|衬衫|围裙|船帆|球|杯子)")
    n_named = 0
    for en, zh in zip(frames["text"], frames["text_zh"]):
        named = things.findall(en)
        assert named == [zh_of[c] for c in things_zh.findall(zh)]  # the same in both
        n_named += bool(named)
    assert n_named > 45  # most frames name a coloured moving thing (else a bird, a dog...)


def test_deterministic():
    a = make_frames(20, image_size=(24, 40), random_state=3)
    b = make_frames(20, image_size=(24, 40), random_state=3)
    c = make_frames(20, image_size=(24, 40), random_state=4)
    for column in ("text", "text_zh", "scene", "shot", "frame"):
        assert a[column].tolist() == b[column].tolist()
    assert all(np.array_equal(x, y) for x, y in zip(a["image"], b["image"]))
    assert not all(np.array_equal(x, y) for x, y in zip(a["image"], c["image"]))


def test_consecutive_frames_look_alike_and_scenes_differ(frames):
    images = np.stack(frames["image"]).astype(np.float32)
    shot, scene = frames["shot"].to_numpy(), frames["scene"].to_numpy()
    same = shot[1:] == shot[:-1]
    consecutive = np.abs(images[1:] - images[:-1]).mean(axis=(1, 2, 3))[same]
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(images), size=(2, 400))
    other = scene[i] != scene[j]
    across = np.abs(images[i[other]] - images[j[other]]).mean(axis=(1, 2, 3))
    assert consecutive.mean() * 3 < across.mean()
    assert np.percentile(consecutive, 90) < np.percentile(across, 10)
    assert consecutive.min() > 0  # still a video: something changes every frame


@pytest.mark.parametrize("size, shape", [(32, (32, 32, 3)), ((48, 64), (48, 64, 3))])
def test_image_size(size, shape):
    frame = make_frames(3, image_size=size, random_state=0)
    assert len(frame) == 3 and all(img.shape == shape for img in frame["image"])


@pytest.mark.parametrize("kwargs, match", [
    ({"n_samples": 0}, "n_samples"),
    ({"n_samples": 2.5}, "n_samples"),
    ({"n_samples": True}, "n_samples"),
    ({"image_size": 8}, "image_size"),
    ({"image_size": (120, 10)}, "image_size"),
])
def test_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_frames(**kwargs)


def test_fast():
    make_frames(5, random_state=0)  # imports
    start = time.perf_counter()
    make_frames(90, random_state=0)
    assert time.perf_counter() - start < 2.0
