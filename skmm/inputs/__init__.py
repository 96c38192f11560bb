"""From a pandas DataFrame to arrays: image decoding, tokenization, word vectors.

This package never imports torch: it produces numpy arrays (uint8 NCHW images,
int64 token ids and lengths, float32 word-vector tables) that the embedders
turn into tensors.

Modules, each importing only those above it in this list:

- ``checks``: problem reports, column checks, missing cells, vector columns
  (imports no other module of the package);
- ``images``: decoding image cells, ``ImageLoader``, ``ImageColumn``;
- ``tokenizers``: tokenizers and text checks;
- ``vocabulary``: ``Vocabulary`` and the special tokens;
- ``word_vectors``: loading (files, wordllama), training and cutting word-vector tables;
- ``modalities``: the ``modalities`` parameter of the embedders;
- ``text``: ``TextEncoder`` and ``MeanWordVectors``;
- ``text_features``: ``TextFeatures``;
- ``validate``: ``validate_frame``.
"""

from skmm.inputs.checks import check_columns, check_frame
from skmm.inputs.images import (
    ImageColumn,
    ImageDecodeError,
    ImageLoader,
    as_size,
    check_images,
    decode_image,
    load_images,
)
from skmm.inputs.text import MeanWordVectors, TextEncoder
from skmm.inputs.text_features import TextFeatures
from skmm.inputs.tokenizers import (
    check_text,
    detokenize,
    english_tokenize,
    get_tokenizer,
    jieba_tokenize,
    tokenize,
    wordllama_tokenize,
)
from skmm.inputs.validate import validate_frame
from skmm.inputs.vocabulary import PAD, SOS, UNK, Vocabulary
from skmm.inputs.word_vectors import (
    WordVectorsFormatError,
    WordVectorsNotFoundError,
    load_word_vectors,
    load_wordllama,
)

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
    "WordVectorsFormatError",
    "WordVectorsNotFoundError",
    "as_size",
    "check_columns",
    "check_frame",
    "check_images",
    "check_text",
    "decode_image",
    "detokenize",
    "english_tokenize",
    "get_tokenizer",
    "jieba_tokenize",
    "load_images",
    "load_word_vectors",
    "load_wordllama",
    "tokenize",
    "validate_frame",
    "wordllama_tokenize",
]
