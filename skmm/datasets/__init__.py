"""Datasets for skmm: real emoji, generated shapes and video frames, a user's folder of images.

All of them return a pandas DataFrame with an ``image`` column (uint8 arrays or
file paths) and a ``text`` column, ready for the skmm embedders.
"""

from skmm.datasets._home import get_data_home
from skmm.datasets.emoji import GROUP_DESCRIPTIONS as EMOJI_GROUP_DESCRIPTIONS
from skmm.datasets.emoji import load_emoji
from skmm.datasets.folder import load_image_text_folder
from skmm.datasets.frames import make_frames
from skmm.datasets.shapes import make_shapes

__all__ = ["EMOJI_GROUP_DESCRIPTIONS", "get_data_home", "load_emoji", "load_image_text_folder",
           "make_frames", "make_shapes"]
