"""Generated video frames with English and Chinese captions: a small, real-looking table.

A stand-in for a user's table of frames grabbed from a video, with subtitles:
a few shots (a street by day or night, a beach, a kitchen, a park, an office),
each a run of consecutive frames in which the camera pans a little and people,
cars, boats, dogs or birds move; textured backgrounds and sensor noise. Drawn
with Pillow, nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SCENES", "make_frames"]

#: The scenes, in label order.
SCENES = ("street_day", "street_night", "beach", "kitchen", "park", "office")

_SUPERSAMPLE = 2

# name: (English, Chinese, RGB)
_COLORS = {
    "red": ("red", "红色", (200, 40, 35)),
    "blue": ("blue", "蓝色", (40, 70, 190)),
    "yellow": ("yellow", "黄色", (235, 195, 40)),
    "white": ("white", "白色", (235, 235, 230)),
    "green": ("green", "绿色", (40, 140, 60)),
    "black": ("black", "黑色", (30, 30, 35)),
}

# Per scene: where (English phrase, Chinese phrase), a short title (English, Chinese),
# what is always seen (English, Chinese), the moving things, and lines people say.
_SCENE_TEXT = {
    "street_day": {
        "place": ("on a busy street in the daytime", "白天热闹的街道上"),
        "title": ("A busy street in the daytime", "白天的街道"),
        "static": ("tall buildings line the road", "道路两旁是高楼"),
        "movers": ("car", "car", "person", "person", "bird"),
        "lines": (
            ("Wait for the green light.", "等绿灯再过马路。"),
            ("The bus is late again.", "公交车又晚点了。"),
            ("Let's get coffee over there.", "我们去那边喝杯咖啡吧。"),
            ("Excuse me, where is the station?", "请问，车站在哪里？"),
            ("It's really busy today.", "今天街上人真多。"),
        ),
    },
    "street_night": {
        "place": ("on a quiet street at night", "夜晚安静的街道上"),
        "title": ("A quiet street at night", "夜晚的街道"),
        "static": ("the street lamps are on", "路灯都亮着"),
        "movers": ("car", "car", "person"),
        "lines": (
            ("It's late, let's go home.", "很晚了，我们回家吧。"),
            ("Be careful, the road is dark.", "小心，路上很黑。"),
            ("The shops are all closed.", "商店都关门了。"),
            ("Can you call a taxi?", "你能叫一辆出租车吗？"),
            ("I love the city at night.", "我喜欢夜晚的城市。"),
        ),
    },
    "beach": {
        "place": ("on a sunny beach", "阳光明媚的海滩上"),
        "title": ("A sunny beach", "海边的沙滩"),
        "static": ("the sun shines over the sea", "太阳照在海面上"),
        "movers": ("boat", "ball", "person", "bird"),
        "lines": (
            ("The water is so warm!", "海水好暖和！"),
            ("Throw me the ball!", "把球扔给我！"),
            ("Don't forget the sunscreen.", "别忘了涂防晒霜。"),
            ("Look at that boat!", "快看那艘船！"),
            ("Let's build a sandcastle.", "我们来堆沙堡吧。"),
        ),
    },
    "kitchen": {
        "place": ("in a small kitchen", "小厨房里"),
        "title": ("A small kitchen", "厨房"),
        "static": ("a pot is steaming on the stove", "炉子上的锅正冒着热气"),
        "movers": ("cat", "cup", "person"),
        "lines": (
            ("Dinner is almost ready.", "晚饭快做好了。"),
            ("Can you pass me the salt?", "能把盐递给我吗？"),
            ("The soup smells great.", "汤闻起来真香。"),
            ("Careful, the pot is hot.", "小心，锅很烫。"),
            ("Who wants some tea?", "谁想喝茶？"),
        ),
    },
    "park": {
        "place": ("in a green park", "绿色的公园里"),
        "title": ("A park on a fine day", "公园"),
        "static": ("tall trees stand beside the path", "小路旁长着高大的树"),
        "movers": ("dog", "person", "ball", "bird"),
        "lines": (
            ("What a beautiful day!", "今天天气真好！"),
            ("Come here, good dog!", "过来，乖狗狗！"),
            ("Let's sit on the bench.", "我们在长椅上坐一会儿吧。"),
            ("I run here every morning.", "我每天早上都在这里跑步。"),
            ("The leaves are so green.", "树叶绿油油的。"),
        ),
    },
    "office": {
        "place": ("in a bright office", "明亮的办公室里"),
        "title": ("An open-plan office", "办公室"),
        "static": ("computer screens glow on the desks", "桌上的电脑屏幕亮着"),
        "movers": ("person", "person"),
        "lines": (
            ("The meeting starts at ten.", "会议十点开始。"),
            ("Did you send the report?", "你把报告发出去了吗？"),
            ("My computer is so slow today.", "我的电脑今天好慢。"),
            ("Let's have lunch together.", "我们一起吃午饭吧。"),
            ("Can you print this for me?", "你能帮我打印一下吗？"),
        ),
    },
}

_SPEAKERS = (("A man", "一个男人"), ("A woman", "一个女人"), ("A boy", "一个男孩"),
             ("An old man", "一位老人"), ("A girl", "一个女孩"))


def _action(kind, color, left, scene):
    """What a moving thing does: (English, Chinese), without final punctuation."""
    c_en, c_zh, _ = _COLORS[color]
    d_en, d_zh = ("to the left", "左") if left else ("to the right", "右")
    if kind == "car":
        if scene == "street_night":
            return (f"a {c_en} car with its headlights on drives {d_en}",
                    f"一辆开着车灯的{c_zh}汽车向{d_zh}开去")
        return f"a {c_en} car drives {d_en}", f"一辆{c_zh}的汽车向{d_zh}开去"
    if kind == "person":
        if scene == "office":
            return (f"a colleague in a {c_en} shirt walks past the desks",
                    f"一位穿{c_zh}衬衫的同事从办公桌旁走过")
        if scene == "kitchen":
            return (f"someone in a {c_en} apron moves {d_en}",
                    f"一个系着{c_zh}围裙的人向{d_zh}走")
        return f"a person in a {c_en} coat walks {d_en}", f"一个穿{c_zh}外套的人向{d_zh}走去"
    if kind == "boat":
        return (f"a boat with a {c_en} sail sails {d_en}",
                f"一艘挂着{c_zh}船帆的小船向{d_zh}驶去")
    if kind == "ball":
        return f"a {c_en} ball bounces along", f"一个{c_zh}的球在地上弹跳"
    if kind == "bird":
        return "a bird flies across the sky", "一只鸟从天空飞过"
    if kind == "dog":
        return f"a dog runs {d_en} across the grass", f"一只小狗向{d_zh}跑过草地"
    if kind == "cat":
        return "a cat walks along the counter", "一只猫沿着台面走过"
    # cup
    return (f"a {c_en} cup slides across the counter", f"一个{c_zh}杯子滑过台面")


def _caption(rng, scene, action, line, speaker, off_camera):
    """One frame's English and Chinese caption (same content)."""
    text = _SCENE_TEXT[scene]
    place_en, place_zh = text["place"]
    title_en, title_zh = text["title"]
    static_en, static_zh = text["static"]
    act_en, act_zh = action
    template = rng.randint(4)
    if template == 0:
        en, zh = f"{title_en}. {act_en.capitalize()}.", f"{title_zh}。{act_zh}。"
    elif template == 1:
        en, zh = f"{act_en.capitalize()} {place_en}.", f"{place_zh}，{act_zh}。"
    elif template == 2:
        en = f"{title_en}: {static_en}, and {act_en}."
        zh = f"{title_zh}：{static_zh}，{act_zh}。"
    else:
        en, zh = f"In this shot, {act_en}.", f"画面中，{act_zh}。"
    if line is not None:
        (s_en, s_zh), (l_en, l_zh) = speaker, line
        if not off_camera:
            en, zh = f'{en} {s_en} says: "{l_en}"', f"{zh}{s_zh}说：“{l_zh}”"
        else:
            en, zh = f'{en} Someone off camera: "{l_en}"', f"{zh}画外音：“{l_zh}”"
    return en, zh


# ---- drawing ---------------------------------------------------------------------


def _texture(rng, h, w, cell, amplitude):
    """Smooth noise of shape (h, w): random values on a coarse grid, upsampled."""
    from PIL import Image

    gh, gw = max(2, h // cell + 2), max(2, w // cell + 2)
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    smooth = Image.fromarray(coarse).resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(smooth) * amplitude


def _vertical_gradient(h, w, top, bottom):
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    return np.broadcast_to((1 - t) * np.float32(top) + t * np.float32(bottom), (h, w, 3))


def _jitter(rng, rgb, amount=20):
    return tuple(int(np.clip(c + rng.randint(-amount, amount + 1), 0, 255)) for c in rgb)


def _background(rng, scene, H, W):
    """The shot's background (a PIL image, H x W, supersampled), static things drawn."""
    from PIL import Image, ImageDraw

    canvas = np.empty((H, W, 3), np.float32)
    night = scene == "street_night"
    if scene in ("street_day", "street_night"):
        horizon, road = int(0.58 * H), int(0.68 * H)
        sky = ((15, 20, 55), (45, 50, 90)) if night else ((110, 165, 225), (200, 225, 245))
        canvas[:horizon] = _vertical_gradient(horizon, W, *sky)
        canvas[horizon:road] = (70, 70, 75) if night else (165, 160, 150)
        canvas[road:] = (35, 35, 40) if night else (80, 80, 85)
    elif scene == "beach":
        sea, sand = int(0.42 * H), int(0.64 * H)
        canvas[:sea] = _vertical_gradient(sea, W, (80, 150, 230), (190, 220, 245))
        canvas[sea:sand] = _vertical_gradient(sand - sea, W, (30, 90, 160), (60, 150, 190))
        canvas[sand:] = _vertical_gradient(H - sand, W, (225, 200, 150), (205, 175, 120))
    elif scene == "kitchen":
        counter = int(0.6 * H)
        canvas[:counter] = _jitter(rng, (225, 210, 180), 15)
        canvas[counter:] = (120, 80, 50)
    elif scene == "park":
        grass = int(0.5 * H)
        canvas[:grass] = _vertical_gradient(grass, W, (100, 160, 230), (190, 220, 240))
        canvas[grass:] = _vertical_gradient(H - grass, W, (90, 150, 60), (55, 120, 40))
    else:  # office
        floor = int(0.7 * H)
        canvas[:floor] = _jitter(rng, (200, 205, 215), 12)
        canvas[floor:] = (110, 110, 120)
    canvas = canvas + _texture(rng, H, W, 24, 6.0)[..., None]
    canvas += rng.normal(0.0, 4.0, (H, W, 1)).astype(np.float32)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    pen = ImageDraw.Draw(image)
    k = _SUPERSAMPLE
    if scene in ("street_day", "street_night"):
        _draw_street(rng, pen, H, W, night, k)
    elif scene == "beach":
        _draw_beach(rng, pen, H, W, k)
    elif scene == "kitchen":
        _draw_kitchen(rng, pen, H, W, k)
    elif scene == "park":
        _draw_park(rng, pen, H, W, k)
    else:
        _draw_office(rng, pen, H, W, k)
    return image


def _draw_street(rng, pen, H, W, night, k):
    horizon, road = int(0.58 * H), int(0.68 * H)
    if night:
        pen.ellipse((0.8 * W, 0.06 * H, 0.8 * W + 0.09 * H, 0.15 * H), fill=(240, 240, 210))
    else:
        for _ in range(3):
            cx, cy, r = rng.uniform(0, W), rng.uniform(0.05, 0.2) * H, rng.uniform(0.04, 0.08) * H
            for dx in (-r, 0, r):
                pen.ellipse((cx + dx - r, cy - 0.7 * r, cx + dx + r, cy + 0.7 * r),
                            fill=(245, 245, 250))
    x = -rng.uniform(0, 0.1) * W
    while x < W:
        bw, bh = rng.uniform(0.09, 0.18) * W, rng.uniform(0.25, 0.5) * H
        base = (40, 40, 55) if night else (150, 140, 130)
        pen.rectangle((x, horizon - bh, x + bw, horizon), fill=_jitter(rng, base, 25))
        wy = horizon - bh + 0.04 * H
        while wy < horizon - 0.08 * H:
            wx = x + 0.1 * bw
            while wx < x + 0.85 * bw:
                if night:
                    lit = rng.rand() < 0.45
                    color = (250, 215, 110) if lit else (25, 25, 35)
                else:
                    color = (170, 200, 225)
                pen.rectangle((wx, wy, wx + 0.1 * bw, wy + 0.035 * H), fill=color)
                wx += 0.22 * bw
            wy += 0.08 * H
        x += bw + rng.uniform(0, 0.02) * W
    for dash in np.arange(0, W, 0.12 * W):  # lane markings
        pen.rectangle((dash, 0.83 * H, dash + 0.06 * W, 0.84 * H + k), fill=(220, 220, 200))
    for lamp in np.arange(rng.uniform(0.05, 0.2) * W, W, 0.3 * W):
        if night:  # a pool of light on the pavement
            pen.ellipse((lamp - 0.07 * W, road - 0.04 * H, lamp + 0.07 * W, road + 0.06 * H),
                        fill=(85, 80, 62))
        pen.line((lamp, road, lamp, 0.36 * H), fill=(60, 60, 60), width=2 * k)
        glow = (255, 230, 140) if night else (200, 200, 190)
        pen.ellipse((lamp - 3 * k, 0.34 * H, lamp + 3 * k, 0.37 * H + 2 * k), fill=glow)


def _draw_beach(rng, pen, H, W, k):
    sx, sy, r = rng.uniform(0.1, 0.9) * W, rng.uniform(0.08, 0.18) * H, 0.07 * H
    pen.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 230, 120))
    for y in np.arange(0.45, 0.63, 0.035) * H:  # waves
        for x in np.arange(rng.uniform(0, 0.1) * W, W, 0.15 * W):
            pen.arc((x, y, x + 0.08 * W, y + 0.03 * H), 200, 340, fill=(170, 210, 235), width=k)
    pen.rectangle((0, 0.63 * H, W, 0.65 * H), fill=(235, 235, 225))  # foam
    ux = rng.uniform(0.15, 0.85) * W
    pen.line((ux, 0.66 * H, ux, 0.9 * H), fill=(90, 70, 50), width=2 * k)
    top = _jitter(rng, (220, 60, 60), 30)
    pen.pieslice((ux - 0.12 * W, 0.6 * H, ux + 0.12 * W, 0.78 * H), 180, 360, fill=top)
    pen.rectangle((ux + 0.05 * W, 0.86 * H, ux + 0.2 * W, 0.92 * H),
                  fill=_jitter(rng, (60, 120, 200), 40))


def _draw_kitchen(rng, pen, H, W, k):
    counter = int(0.6 * H)
    tile = 0.08 * H
    for y in np.arange(0.3 * H, counter, tile):
        pen.line((0, y, W, y), fill=(200, 190, 165), width=1)
    for x in np.arange(0, W, tile):
        pen.line((x, 0.3 * H, x, counter), fill=(200, 190, 165), width=1)
    wood = _jitter(rng, (150, 100, 60), 20)
    for x in np.arange(0, W, 0.18 * W):  # upper and lower cabinets
        pen.rectangle((x + k, 0.02 * H, x + 0.17 * W, 0.27 * H), fill=wood, outline=(90, 60, 35))
        pen.rectangle((x + k, 0.66 * H, x + 0.17 * W, 0.98 * H), fill=wood, outline=(90, 60, 35))
        pen.rectangle((x + 0.14 * W, 0.72 * H, x + 0.15 * W, 0.8 * H), fill=(210, 210, 210))
    pen.rectangle((0, 0.58 * H, W, 0.64 * H), fill=(90, 90, 95))  # counter top
    wx = rng.uniform(0.3, 0.6) * W
    pen.rectangle((wx, 0.06 * H, wx + 0.22 * W, 0.26 * H), fill=(250, 250, 250))
    pen.rectangle((wx + k, 0.07 * H, wx + 0.22 * W - k, 0.25 * H), fill=(150, 200, 240))
    pen.line((wx + 0.11 * W, 0.07 * H, wx + 0.11 * W, 0.25 * H), fill=(250, 250, 250), width=k)
    px = rng.uniform(0.1, 0.3) * W
    pen.rectangle((px - 0.06 * W, 0.57 * H, px + 0.09 * W, 0.59 * H), fill=(20, 20, 20))  # stove
    pen.rectangle((px - 0.04 * W, 0.45 * H, px + 0.07 * W, 0.57 * H), fill=(120, 120, 130))
    pen.ellipse((px - 0.045 * W, 0.43 * H, px + 0.075 * W, 0.47 * H), fill=(160, 160, 170))
    fx = rng.uniform(0.8, 0.9) * W
    pen.rectangle((fx, 0.05 * H, fx + 0.12 * W, 0.98 * H), fill=(240, 240, 240),
                  outline=(180, 180, 180), width=k)


def _tree(pen, x, ground, height, rng, k):
    pen.rectangle((x - 0.04 * height, ground - 0.5 * height, x + 0.04 * height, ground),
                  fill=(100, 70, 40))
    for _ in range(5):
        cx = x + rng.uniform(-0.2, 0.2) * height
        cy = ground - rng.uniform(0.55, 0.9) * height
        r = rng.uniform(0.15, 0.25) * height
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_jitter(rng, (45, 110, 45), 20))


def _draw_park(rng, pen, H, W, k):
    for x in np.arange(0, W, 0.05 * W):  # far treeline
        r = rng.uniform(0.03, 0.06) * H
        pen.ellipse((x - r, 0.5 * H - 1.6 * r, x + r, 0.5 * H + 0.4 * r), fill=(50, 100, 55))
    cx = rng.uniform(0.35, 0.65) * W
    pen.polygon([(cx - 0.03 * W, 0.5 * H), (cx + 0.03 * W, 0.5 * H),
                 (cx + 0.3 * W, H), (cx - 0.3 * W, H)], fill=(205, 190, 150))
    for x in rng.uniform(0, W, size=3):
        _tree(pen, x, rng.uniform(0.62, 0.8) * H, rng.uniform(0.45, 0.6) * H, rng, k)
    bx = rng.uniform(0.1, 0.8) * W
    pen.rectangle((bx, 0.7 * H, bx + 0.14 * W, 0.72 * H), fill=(120, 80, 40))
    pen.rectangle((bx, 0.64 * H, bx + 0.14 * W, 0.66 * H), fill=(120, 80, 40))
    for leg in (bx + k, bx + 0.14 * W - 2 * k):
        pen.line((leg, 0.72 * H, leg, 0.78 * H), fill=(60, 60, 60), width=k)


def _draw_office(rng, pen, H, W, k):
    for x in np.arange(0.05 * W, W, 0.35 * W):  # windows with a skyline
        pen.rectangle((x, 0.08 * H, x + 0.25 * W, 0.4 * H), fill=(180, 210, 235))
        bx = x
        while bx < x + 0.25 * W:
            bw = rng.uniform(0.02, 0.05) * W
            pen.rectangle((bx, 0.4 * H - rng.uniform(0.05, 0.2) * H, min(bx + bw, x + 0.25 * W),
                           0.4 * H), fill=_jitter(rng, (110, 120, 140), 20))
            bx += bw
        pen.rectangle((x, 0.08 * H, x + 0.25 * W, 0.4 * H), outline=(240, 240, 240), width=k)
    for x in np.arange(0.05 * W, W, 0.3 * W):
        pen.rectangle((x, 0.01 * H, x + 0.12 * W, 0.03 * H), fill=(250, 250, 240))  # lights
    for x in np.arange(rng.uniform(0, 0.1) * W, W, 0.32 * W):  # desks with screens
        pen.rectangle((x, 0.62 * H, x + 0.26 * W, 0.66 * H), fill=(235, 235, 230))
        pen.line((x + 2 * k, 0.66 * H, x + 2 * k, 0.85 * H), fill=(90, 90, 90), width=k)
        pen.line((x + 0.26 * W - 2 * k, 0.66 * H, x + 0.26 * W - 2 * k, 0.85 * H),
                 fill=(90, 90, 90), width=k)
        pen.rectangle((x + 0.06 * W, 0.45 * H, x + 0.18 * W, 0.6 * H), fill=(25, 25, 30))
        pen.rectangle((x + 0.065 * W, 0.46 * H, x + 0.175 * W, 0.58 * H),
                      fill=_jitter(rng, (120, 170, 230), 30))
        pen.rectangle((x + 0.11 * W, 0.6 * H, x + 0.13 * W, 0.62 * H), fill=(25, 25, 30))
    px = rng.uniform(0.05, 0.95) * W
    pen.rectangle((px - 0.02 * W, 0.62 * H, px + 0.02 * W, 0.7 * H), fill=(150, 90, 60))
    for _ in range(5):
        cx, cy = px + rng.uniform(-0.03, 0.03) * W, rng.uniform(0.5, 0.6) * H
        pen.ellipse((cx - 0.02 * W, cy - 0.04 * H, cx + 0.02 * W, cy + 0.04 * H),
                    fill=(50, 130, 60))


def _draw_mover(pen, m, x, y, t, k, night):
    """Draw a moving thing at (x, y) (its foot point) on a supersampled frame."""
    s, rgb = m["size"] * k, _COLORS[m["color"]][2]
    kind = m["kind"]
    if kind == "car":
        sign = -1 if m["left"] else 1
        pen.rectangle((x - s / 2, y - 0.32 * s, x + s / 2, y - 0.1 * s), fill=rgb)
        pen.polygon([(x - 0.3 * s, y - 0.32 * s), (x - 0.18 * s, y - 0.52 * s),
                     (x + 0.2 * s, y - 0.52 * s), (x + 0.32 * s, y - 0.32 * s)], fill=rgb)
        pen.polygon([(x - 0.24 * s, y - 0.33 * s), (x - 0.15 * s, y - 0.48 * s),
                     (x + 0.17 * s, y - 0.48 * s), (x + 0.26 * s, y - 0.33 * s)],
                    fill=(150, 190, 215) if not night else (40, 50, 70))
        for wx in (x - 0.3 * s, x + 0.3 * s):
            pen.ellipse((wx - 0.11 * s, y - 0.2 * s, wx + 0.11 * s, y + 0.02 * s),
                        fill=(20, 20, 20))
        lamp = (255, 245, 180) if night else (240, 240, 220)
        hx = x + sign * 0.47 * s
        pen.ellipse((hx - 0.04 * s, y - 0.27 * s, hx + 0.04 * s, y - 0.19 * s), fill=lamp)
    elif kind == "person":
        swing = np.sin(t * 1.3 + m["phase"]) * 0.12 * s
        skin = m["skin"]
        legs = (50, 50, 70)
        pen.line((x, y - 0.45 * s, x - swing, y), fill=legs, width=max(k, int(0.07 * s)))
        pen.line((x, y - 0.45 * s, x + swing, y), fill=legs, width=max(k, int(0.07 * s)))
        pen.rectangle((x - 0.11 * s, y - 0.82 * s, x + 0.11 * s, y - 0.42 * s), fill=rgb)
        pen.line((x, y - 0.78 * s, x + swing, y - 0.5 * s), fill=rgb, width=max(k, int(0.06 * s)))
        pen.ellipse((x - 0.09 * s, y - s, x + 0.09 * s, y - 0.82 * s), fill=skin)
    elif kind == "boat":
        pen.polygon([(x - 0.5 * s, y - 0.15 * s), (x + 0.5 * s, y - 0.15 * s),
                     (x + 0.35 * s, y), (x - 0.35 * s, y)], fill=(110, 70, 40))
        pen.line((x, y - 0.15 * s, x, y - s), fill=(60, 40, 30), width=k)
        pen.polygon([(x + k, y - 0.95 * s), (x + k, y - 0.2 * s), (x + 0.4 * s, y - 0.2 * s)],
                    fill=rgb)
    elif kind == "ball":
        r = 0.5 * s
        lift = abs(np.sin(t * 0.8 + m["phase"])) * 2.5 * s
        pen.ellipse((x - r, y - 2 * r - lift, x + r, y - lift), fill=rgb, outline=(40, 40, 40))
    elif kind == "bird":
        flap = np.sin(t * 2.0 + m["phase"]) * 0.3 * s
        color = (40, 40, 45)
        pen.line((x - 0.5 * s, y - flap, x, y), fill=color, width=k)
        pen.line((x, y, x + 0.5 * s, y - flap), fill=color, width=k)
    elif kind in ("dog", "cat"):
        sign = -1 if m["left"] else 1
        body = (150, 100, 50) if kind == "dog" else (120, 120, 125)
        step = np.sin(t * 1.6 + m["phase"]) * 0.1 * s
        for lx in (x - 0.3 * s, x + 0.25 * s):
            pen.line((lx, y - 0.35 * s, lx + step, y), fill=body, width=max(k, int(0.08 * s)))
        pen.ellipse((x - 0.45 * s, y - 0.6 * s, x + 0.4 * s, y - 0.25 * s), fill=body)
        hx = x + sign * 0.45 * s
        pen.ellipse((hx - 0.18 * s, y - 0.8 * s, hx + 0.18 * s, y - 0.45 * s), fill=body)
        pen.line((x - sign * 0.42 * s, y - 0.5 * s, x - sign * 0.65 * s, y - 0.75 * s),
                 fill=body, width=max(k, int(0.06 * s)))
    else:  # cup
        pen.rectangle((x - 0.3 * s, y - 0.8 * s, x + 0.3 * s, y), fill=rgb, outline=(60, 60, 60))
        pen.arc((x + 0.15 * s, y - 0.65 * s, x + 0.55 * s, y - 0.2 * s), 270, 90,
                fill=(60, 60, 60), width=k)


# where movers stand, as fractions of the canvas height: (low, high), size / frame height
_LANES = {
    ("street_day", "car"): ((0.78, 0.95), 0.32), ("street_day", "person"): ((0.62, 0.68), 0.3),
    ("street_night", "car"): ((0.78, 0.95), 0.32),
    ("street_night", "person"): ((0.62, 0.68), 0.3),
    ("beach", "boat"): ((0.48, 0.6), 0.2), ("beach", "ball"): ((0.75, 0.95), 0.07),
    ("beach", "person"): ((0.72, 0.95), 0.38), ("park", "dog"): ((0.7, 0.95), 0.15),
    ("park", "person"): ((0.6, 0.9), 0.4), ("park", "ball"): ((0.7, 0.95), 0.06),
    ("kitchen", "cat"): ((0.58, 0.58), 0.14), ("kitchen", "cup"): ((0.58, 0.58), 0.08),
    ("kitchen", "person"): ((1.05, 1.2), 0.9), ("office", "person"): ((0.75, 0.95), 0.5),
    ("bird", None): ((0.08, 0.3), 0.06),
}
_SPEED = {"car": 2.5, "person": 0.9, "boat": 0.5, "ball": 1.2, "bird": 2.0, "dog": 1.8,
          "cat": 0.8, "cup": 1.0}  # pixels per frame at 120 x 200


def _movers(rng, scene, h, w, pad_x, pad_y):
    """The moving things of a shot: kind, colour, start and velocity (frame pixels)."""
    pool = _SCENE_TEXT[scene]["movers"]
    n = min(len(pool), 2 + rng.randint(2))
    scale = min(h / 120, w / 200)
    movers = []
    for kind in rng.permutation(np.array(pool, dtype=object))[:n]:
        (low, high), size = _LANES.get((scene, kind), _LANES[("bird", None)])
        left = bool(rng.randint(2))
        speed = _SPEED[kind] * scale * rng.uniform(0.7, 1.3)
        color = list(_COLORS)[rng.randint(len(_COLORS))]
        if scene == "street_night" and color == "black":
            color = "white"
        movers.append({
            "kind": kind, "color": color, "left": left, "size": size * h,
            "x": rng.uniform(0.2, 0.8) * w + pad_x, "vx": -speed if left else speed,
            "y": rng.uniform(low, high) * (h + 2 * pad_y),
            "phase": rng.uniform(0, 2 * np.pi),
            "skin": _jitter(rng, (225, 180, 145), 30),
        })
    return sorted(movers, key=lambda m: m["y"])  # far things first


def _render_shot(rng, scene, n_frames, h, w):
    """The frames (uint8, n x h x w x 3) and per-frame visible movers of one shot."""
    from PIL import ImageDraw

    k = _SUPERSAMPLE
    pad_x, pad_y = max(4, round(0.1 * w)), max(2, round(0.04 * h))
    background = _background(rng, scene, k * (h + 2 * pad_y), k * (w + 2 * pad_x))
    movers = _movers(rng, scene, h, w, pad_x, pad_y)
    # camera: a pan from one side of the margin towards the other, plus a little shake
    x0, x1 = (0.0, 2 * pad_x) if rng.randint(2) else (2 * pad_x, 0.0)
    y0 = rng.uniform(0, 2 * pad_y)
    night = scene == "street_night"
    light, pan = rng.uniform(0.9, 1.1), rng.uniform(0.3, 1.0)
    frames, visible = [], []
    for t in range(n_frames):
        frac = pan * t / max(n_frames - 1, 1)
        cx = int(round(x0 + (x1 - x0) * frac + rng.normal(0, 0.3)))
        cy = int(round(np.clip(y0 + rng.normal(0, 0.3), 0, 2 * pad_y)))
        cx = int(np.clip(cx, 0, 2 * pad_x))
        frame = background.crop((k * cx, k * cy, k * (cx + w), k * (cy + h)))
        pen = ImageDraw.Draw(frame)
        seen = []
        for m in movers:
            x = m["x"] + m["vx"] * t - cx
            x = (x + 0.3 * w) % (1.6 * w) - 0.3 * w  # things leaving come back
            y = m["y"] - cy
            _draw_mover(pen, m, k * x, k * y, t, k, night)
            if 0 <= x < w:
                seen.append(m)
        pixels = np.asarray(frame.reduce(k), dtype=np.float32)
        gain = light * (1 + rng.normal(0, 0.015))  # exposure flicker
        noise = rng.normal(0, 6.0 if night else 3.0, pixels.shape).astype(np.float32)
        frames.append(np.clip(pixels * gain + noise, 0, 255).astype(np.uint8))
        visible.append(seen or movers)
    return frames, visible


def make_frames(n_samples=90, image_size=(120, 200), *, random_state=None):
    """Generate frames of a short video with English and Chinese captions.

    A small, real-looking stand-in for a user's table of frames grabbed from a
    video: a few shots, each a run of 8 to 15 consecutive frames of one scene
    (:data:`SCENES`: a street by day or by night, a beach, a kitchen, a park,
    an office). Within a shot the camera pans slowly and shakes a little,
    people, cars, boats, dogs, birds... move across textured backgrounds, and
    each frame has sensor noise and a small exposure flicker. The scenes are
    taken in a random order and every scene appears before one repeats, so 90
    frames (about 8 shots) show all six.

    Each frame's caption says, like a subtitle, where we are, what one of the
    visible moving things does (with its colour) and, in most frames, a line
    someone says; the line changes every few frames. ``text_zh`` is the same
    caption in Chinese (no spaces: use ``tokenizer="jieba"``).

    Drawn with Pillow, nothing is downloaded: 90 frames at 120 x 200 take
    about a tenth of a second.

    Parameters
    ----------
    n_samples : int, default=90
        Number of frames (rows).
    image_size : int or tuple of (int, int), default=(120, 200)
        Height and width of the frames (at least 16 pixels); an int gives a
        square.
    random_state : int, RandomState instance or None, default=None
        Seed; the same seed gives the same table.

    Returns
    -------
    frame : pandas.DataFrame
        One row per video frame, in video order, with columns

        ``image`` : ndarray of shape (height, width, 3), uint8
            The frame, RGB.
        ``text`` : str
            The English caption, e.g. ``'A quiet street at night. A white
            car with its headlights on drives to the left. A woman says:
            "It's late, let's go home."'``.
        ``text_zh`` : str
            The same caption in Chinese, e.g.
            ``'夜晚的街道。一辆开着车灯的白色汽车向左开去。一个女人说：“很晚了，我们回家吧。”'``.
        ``scene`` : str
            One of :data:`SCENES`.
        ``shot`` : int
            The shot, 0, 1, ... in video order; a shot's frames are
            consecutive rows.
        ``frame`` : int
            The frame's position in its shot, from 0.

    Raises
    ------
    ValueError
        If ``n_samples`` is not a positive int or ``image_size`` is under 16
        pixels.

    See Also
    --------
    make_shapes : Pictures of shapes whose labels test that a model fuses the
        modalities.

    Examples
    --------
    >>> from skmm.datasets import make_frames
    >>> X = make_frames(30, random_state=0)
    >>> X.shape
    (30, 6)
    >>> X["image"][0].shape, X["image"][0].dtype
    ((120, 200, 3), dtype('uint8'))
    >>> list(X.columns)
    ['image', 'text', 'text_zh', 'scene', 'shot', 'frame']
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
            or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    h, w = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
    if min(h, w) < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size!r}")
    h, w = int(h), int(w)
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    rows, shot, scene_queue = [], 0, []
    while len(rows) < n_samples:
        if not scene_queue:
            scene_queue = [SCENES[i] for i in rng.permutation(len(SCENES))]
        scene = scene_queue.pop(0)
        n_frames = min(int(rng.randint(8, 16)), n_samples - len(rows))
        frames, visible = _render_shot(rng, scene, n_frames, h, w)
        lines = _SCENE_TEXT[scene]["lines"]
        line_order = rng.permutation(len(lines))
        speakers = rng.permutation(len(_SPEAKERS))
        off_camera = rng.randint(2, size=2).astype(bool)
        for t, (image, seen) in enumerate(zip(frames, visible)):
            turn = t // 3  # a line stays on screen for about three frames
            line = lines[line_order[turn % len(lines)]] if turn % 3 != 2 else None
            speaker = _SPEAKERS[speakers[turn % len(speakers)]]
            m = seen[rng.randint(len(seen))]
            action = _action(m["kind"], m["color"], m["left"], scene)
            en, zh = _caption(rng, scene, action, line, speaker, off_camera[turn % 2])
            rows.append((image, en, zh, scene, shot, t))
        shot += 1
    return pd.DataFrame(rows, columns=["image", "text", "text_zh", "scene", "shot", "frame"])
