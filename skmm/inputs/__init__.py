"""From a pandas DataFrame to arrays: image decoding, tokenization, word vectors.

This package never imports torch: it produces numpy arrays (uint8 NCHW images,
int64 token ids and lengths, float32 word-vector tables) that the embedders
turn into tensors.
"""

from skmm.inputs.frame import check_columns, check_frame, validate_frame
from skmm.inputs.images import (
    ImageColumn,
    ImageDecodeError,
    ImageLoader,
    as_size,
    check_images,
    decode_image,
    load_images,
)
from skmm.inputs.text import (
    PAD,
    SOS,
    UNK,
    MeanWordVectors,
    TextEncoder,
    Vocabulary,
    check_text,
    english_tokenize,
    get_tokenizer,
    jieba_tokenize,
    tokenize,
)
from skmm.inputs.text_features import TextFeatures

__all__ = [
    "PAD",
    "SOS",
    "UNK",
    "ImageColumn",
    "ImageDecodeError",
    "ImageLoader",
    "MeanWordVectors",
    "TextEncoder",
    "TextFeatures",
    "Vocabulary",
    "as_size",
    "check_columns",
    "check_frame",
    "check_images",
    "check_text",
    "decode_image",
    "english_tokenize",
    "get_tokenizer",
    "jieba_tokenize",
    "load_images",
    "tokenize",
    "validate_frame",
]
