"""Tiny configurations of the embedders on the papers' trained encoders (a CNN and
word vectors), shared by the tests that exercise that path; the defaults (the
pretrained towers) need no configuration beyond sizes."""

from __future__ import annotations

from skmm.encoders import ConvEncoder, MeanWordEncoder, RecurrentTextEncoder, TextMatrix


def cnn(image_size=16, channels=4) -> ConvEncoder:
    return ConvEncoder(image_size=image_size, channels=channels)


def recurrent(**settings) -> RecurrentTextEncoder:
    """A small recurrent text encoder (Word2Vec of 8 dimensions unless vectors are given)."""
    small = {"hidden_size": 8} if "word_vectors" in settings else {"hidden_size": 8,
                                                                    "vector_size": 8}
    return RecurrentTextEncoder(**{**small, **settings})


def crvae(**overrides) -> dict:
    return {"image_encoder": cnn(), "text_encoder": recurrent(), "n_components": 4,
            "fusion_size": 16, "max_epochs": 2, "batch_size": 16, "random_state": 0,
            **overrides}


def mmeda(**overrides) -> dict:
    return {"image_encoder": cnn(), "text_encoder": TextMatrix(), "n_components": 4,
            "image_code": 8, "text_code": 8, "hidden_size": 16, "fusion_size": 16,
            "max_epochs": 2, "batch_size": 16, "random_state": 0, **overrides}


def common_space(image=None, text=None, **overrides) -> dict:
    modalities = {"image": ("image", image if image is not None else cnn()),
                  "text": ("text", text if text is not None else MeanWordEncoder(vector_size=8))}
    return {"modalities": modalities, "n_components": 8, "hidden_size": 16, "max_epochs": 2,
            "batch_size": 32, "random_state": 0, **overrides}
