"""Every parameter acts (DESIGN.md, "Modalities and encoders").

For each public estimator, in a small configuration, and for each of its
constructor parameters (the settings of its encoders included, as nested
``image_encoder__<name>`` parameters or inside a common-space modality): set
to another valid value, the parameter changes the fitted model's output (or
its score), or ``fit`` raises a ``ValueError`` whose message names it. A
setting a user passes is never silently ignored.

Only the documented infrastructure is exempt (:data:`EXEMPT`): it changes
where and how fast a model trains, not what it computes. Every parameter of a
case must be either in its table of alternatives or exempt: a new parameter
without an entry fails :func:`test_every_parameter_has_an_alternative`.

Repeatable at one torch thread: every fit here is seeded.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

import skmm
import skmm.baselines
from skmm._params import INFRASTRUCTURE
from skmm.datasets import make_shapes
from skmm.encoders import (
    ConvEncoder,
    ImageTower,
    MeanWordEncoder,
    ModuleEncoder,
    RecurrentTextEncoder,
    TextMatrix,
    TextTower,
)

#: one torch thread for the whole module (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Parameters that change where and how fast a model trains, not what it computes:
#: the embedders' infrastructure (skmm._params.INFRASTRUCTURE: device, precision,
#: scaling, checkpoints, threads, seed, verbosity; random_state is tested in
#: test_common.py), MMEDA's ``column_batch_size`` (a memory bound), and the towers'
#: batch, device, precision, threads, disk cache and verbosity. A tower's ``encoder``
#: has one valid value (one tower of each kind ships).
EXEMPT = set(INFRASTRUCTURE) | {
    # MMEDA's and AutoencoderMF's: the columns of the text matrix per step of its
    # column autoencoder, a bound on memory (the same model in exact arithmetic)
    "column_batch_size"}
#: The same for an encoder's settings (``image_encoder__device``, ``modalities[image]__device``).
ENCODER_EXEMPT = {"batch_size", "device", "precision", "n_threads", "memory", "verbose",
                  "encoder"}


def exempt(name: str) -> bool:
    prefix, _, leaf = name.rpartition("__")
    return name in EXEMPT or (bool(prefix) and leaf in ENCODER_EXEMPT)


class TinyBackbone(nn.Module):
    """A pretrained backbone in miniature: images (N, 3, H, W) to features (N, 6)."""

    def __init__(self, width=6):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)

    def forward(self, images):
        return self.conv(images).mean(dim=(2, 3))


def words(**settings):
    small = {"hidden_size": 8} if "word_vectors" in settings else {"hidden_size": 8,
                                                                    "vector_size": 8}
    return RecurrentTextEncoder(**{**small, **settings})


def short_texts():
    """The sentence tower reading at most 6 words, so that its windows act on captions."""
    return TextTower(max_words=6)


def backbone(seed):
    torch.manual_seed(seed)
    return TinyBackbone()


CRVAE = dict(n_components=4, fusion_size=16, max_epochs=2, batch_size=16, random_state=0)
CRVAE_OWN = {"image_col": "image2", "text_col": "text2", "image_encoder": "cnn",
             "text_encoder": "recurrent", "n_components": 3, "fusion_size": 8,
             "text_weight": 0.5, "beta": 0.5, "normalize_terms": False, "free_bits": 0.5,
             "kl_warmup": 2, "max_epochs": 3, "batch_size": 8, "lr": 1e-2,
             "validation_fraction": 0.25}
IMAGE_TOWER = {"image_encoder__image_size": 64, "image_encoder__layers": "head",
               "image_encoder__column": "elsewhere"}
TEXT_TOWER = {"text_encoder__max_words": None, "text_encoder__windows": 1,
              "text_encoder__column": "elsewhere"}
CNN = {"image_encoder__image_size": 8, "image_encoder__channels": 2}
RECURRENT = {"text_encoder__tokenizer": str.split, "text_encoder__word_vectors": "wordllama",
             "text_encoder__word_vector_dims": 64, "text_encoder__vector_size": 4,
             "text_encoder__min_count": 8, "text_encoder__max_vocabulary": 5,
             "text_encoder__max_length": 3, "text_encoder__cell": "lstm",
             "text_encoder__hidden_size": 4, "text_encoder__num_layers": 1,
             "text_encoder__bidirectional": False, "text_encoder__mean_pooling": True,
             "text_encoder__fine_tune": True, "text_encoder__text_loss": "mse",
             "text_encoder__word_dropout": 0.5, "text_encoder__bow_weight": 0.0,
             "text_encoder__mean_vector_weight": 1.0}
MMEDA = dict(n_components=4, image_code=8, text_code=8, hidden_size=16, fusion_size=16,
             max_epochs=2, batch_size=16, random_state=0)
MMEDA_OWN = {"image_col": "image2", "text_col": "text2", "variant": "I", "image_encoder": "cnn",
             "text_encoder": "tfidf", "n_components": 3, "image_code": 4, "text_code": 4,
             "hidden_size": 8, "fusion_size": 8, "fused_image": False,
             "normalize_terms": False, "max_epochs": 3, "batch_size": 8, "lr": 1e-2,
             "validation_fraction": 0.25}
TEXT_MATRIX = {"text_encoder__features": "word2vec", "text_encoder__tokenizer": str.split,
               "text_encoder__word_vectors": "wordllama", "text_encoder__word_vector_dims": 64,
               "text_encoder__vector_size": 4, "text_encoder__max_features": 5}
SPACE = dict(n_components=8, hidden_size=16, max_epochs=2, batch_size=32, random_state=0)
SPACE_OWN = {"strategy": "rvs", "n_components": 4, "hidden_size": 8,
             "dropout": 0.1, "attention": False, "partner_dropout": 0.2, "ce_weight": 0.5,
             "triplet_weight": 0.5, "pair_weight": 0.5, "gammas": (0.5, 0.25, 0.25),
             "margins": (0.5, 0.5),
             "items_per_class": 2, "map_k": 5, "max_epochs": 3, "batch_size": 16, "lr": 1e-2,
             "validation_fraction": 0.25}
#: settings the unlabelled space does not act on: refused without y
SUPERVISED_ONLY = {k: SPACE_OWN[k] for k in ("attention", "partner_dropout", "ce_weight",
                                             "triplet_weight", "pair_weight", "gammas",
                                             "margins",
                                             "items_per_class")}


def in_modality(modality, settings):
    """Alternatives of an encoder's settings, moved into a common-space modality."""
    return {f"modalities[{modality}]__{k.partition('__')[2]}": v for k, v in settings.items()}


def space(image, text, **params):
    return skmm.CommonSpaceEmbedder(modalities={"image": ("image", image),
                                                "text": ("text", text)}, **{**SPACE, **params})


MODULE = {"image_encoder__module": TinyBackbone(width=5), "image_encoder__image_size": 8,
          "image_encoder__fine_tune": False, "image_encoder__lr": 0.05}


def blocks():
    """The factorization baselines' small blocks: 5 principal components of the pixels and
    the mean of Word2Vec vectors, 8 wide (a new text matrix each time)."""
    return dict(n_image_components=5, text_encoder=TextMatrix("word2vec", vector_size=8),
                random_state=0)


#: their two feature blocks, the text matrix's settings nested
BLOCKS_OWN = {"image_col": "image2", "text_col": "text2", "image_features": "convae",
              "image_size": 8, "n_image_components": 3, "text_encoder": "tfidf",
              "text_encoder__features": "tfidf+word2vec", "text_encoder__tokenizer": str.split,
              "text_encoder__word_vectors": "wordllama", "text_encoder__word_vector_dims": 64,
              "text_encoder__vector_size": 4, "text_encoder__max_features": 5}
#: the settings of the word vectors (MeanWordVectors, TextFeatures, TextEncoder)
WORD2VEC = {"tokenizer": str.split, "word_vectors": "wordllama", "word_vector_dims": 64,
            "vector_size": 4}
#: a standalone tower's settings exempt as when it sits in an embedder: batch size, device,
#: precision, threads, disk cache, verbosity, and the tower (one valid value)
TOWER_EXEMPT = ENCODER_EXEMPT


def encoded(est, X):
    """What a fitted TextEncoder gives for the texts: their ids, lengths and vectors."""
    ids, lengths = est.encode(X["text"])
    return np.concatenate([ids.ravel(), lengths, est.vectors_.ravel()])


#: make_shapes' colours (the label of this module's table) and the common space's settings
COLORS = ["blue", "green", "orange", "purple", "red"]
SPACE_SETTINGS = {f"space__{k}" for k in skmm.CommonSpaceEmbedder().get_params(deep=True)}


class Case:
    """An estimator in a small configuration and the alternative of each parameter.

    ``column``: fit on that column of X (a Series), and ``output(est, X)`` is
    what the fitted estimator gives (an estimator without ``transform``, the
    TextEncoder); ``exempt``: its own parameters that only bound time or memory
    (a standalone tower's batch size and disk cache).
    """

    def __init__(self, make, alternatives, *, supervised=False, column=None, output=None,
                 exempt=()):
        self.make, self.alternatives, self.supervised = make, alternatives, supervised
        self.column, self.output, self.exempt = column, output, set(exempt)


CASES = {
    # the defaults, the towers, given as objects so that their settings are parameters
    "CRVAEEmbedder": Case(lambda: skmm.CRVAEEmbedder(**CRVAE, image_encoder=ImageTower(),
                                                     text_encoder=short_texts()),
                          {**CRVAE_OWN, **IMAGE_TOWER, **TEXT_TOWER}),
    "CRVAEEmbedder[cnn]": Case(lambda: skmm.CRVAEEmbedder(
        **CRVAE, image_encoder=ConvEncoder(image_size=16, channels=4), text_encoder=words()),
        {**CNN, **RECURRENT}),
    "MMEDAEmbedder": Case(lambda: skmm.MMEDAEmbedder(**MMEDA, image_encoder=ImageTower(),
                                                     text_encoder=short_texts()),
                          {**MMEDA_OWN, **IMAGE_TOWER, **TEXT_TOWER}),
    "MMEDAEmbedder[cnn]": Case(lambda: skmm.MMEDAEmbedder(
        **MMEDA, image_encoder=ConvEncoder(image_size=16, channels=4), text_encoder=TextMatrix()),
        {**CNN, **TEXT_MATRIX}),
    "MMEDAEmbedder[module]": Case(lambda: skmm.MMEDAEmbedder(
        **MMEDA, image_encoder=ModuleEncoder(backbone(0), image_size=16, fine_tune=True)),
        MODULE),
    "CommonSpaceEmbedder": Case(
        lambda: space(ImageTower(), short_texts()),
        {**SPACE_OWN, "modalities": {"image": ("image", ImageTower()),
                                     "text": ("text2", short_texts())},
         **in_modality("image", IMAGE_TOWER), **in_modality("text", TEXT_TOWER)},
        supervised=True),
    "CommonSpaceEmbedder[pairs]": Case(
        lambda: space(ImageTower(), short_texts()),
        {**SUPERVISED_ONLY, "dropout": 0.1, "lr": 1e-2}),
    "CommonSpaceEmbedder[cnn]": Case(
        lambda: space(ConvEncoder(image_size=16, channels=4), MeanWordEncoder(vector_size=8)),
        {**in_modality("image", CNN), **in_modality("text", {
            f"text_encoder__{k}": v for k, v in {
                "tokenizer": str.split, "word_vectors": "wordllama", "word_vector_dims": 64,
                "vector_size": 4, "min_count": 8, "max_vocabulary": 5, "max_length": 3,
                "fine_tune": False}.items()})},
        supervised=True),
    "CommonSpaceEmbedder[recurrent]": Case(
        lambda: space(ConvEncoder(image_size=16, channels=4), words()),
        in_modality("text", RECURRENT), supervised=True),
    "CommonSpaceEmbedder[module]": Case(
        lambda: space(ModuleEncoder(backbone(0), image_size=16, fine_tune=True), short_texts()),
        in_modality("image", MODULE), supervised=True),
    # classes from their names in a space fitted on the pairs (the space's own settings
    # are tried in its cases above)
    "ZeroShotClassifier": Case(
        lambda: skmm.ZeroShotClassifier(space(ImageTower(), short_texts()), classes=COLORS),
        {"space": skmm.baselines.TowerCCA(n_components=2, pca_components=4),
         "classes": {c: f"{c} thing" for c in COLORS}, "template": "not {}",
         "query": "text", "label_modality": "image"},
        supervised=True, exempt=SPACE_SETTINGS),
    "TowerCCA": Case(lambda: skmm.baselines.TowerCCA(
        n_components=2, pca_components=4, image_encoder=ImageTower(), text_encoder=short_texts()),
        {"image_col": "image2", "text_col": "text2", "n_components": 3, "pca_components": 6,
         **IMAGE_TOWER, **TEXT_TOWER}),
    "TowerCCA[shortcuts]": Case(lambda: skmm.baselines.TowerCCA(n_components=2,
                                                                pca_components=4),
                                {"image_encoder": "cnn", "text_encoder": "recurrent"}),
    "CRVAEEmbedder[module]": Case(lambda: skmm.CRVAEEmbedder(
        **CRVAE, image_encoder=ModuleEncoder(backbone(0), image_size=16, fine_tune=True)),
        MODULE),
    # the baseline classifiers: their own networks (image_encoder=None), then the towers,
    # whose own-network settings (image_size, channels, dense_size, the TF-IDF's) raise
    "ImageCNNClassifier": Case(lambda: skmm.baselines.ImageCNNClassifier(
        image_size=16, channels=(4, 8), hidden_size=16, max_epochs=2, batch_size=16,
        random_state=0),
        {"image_encoder": "efficientnet_lite0", "image_size": 8, "channels": (2, 4)},
        supervised=True),
    # the head's features: on them the validation loss of this small fit stalls, so
    # that patience=1 stops it early
    "ImageCNNClassifier[tower]": Case(lambda: skmm.baselines.ImageCNNClassifier(
        image_encoder=ImageTower(layers="head"), hidden_size=16, max_epochs=8, batch_size=16,
        random_state=0),
        {"image_col": "image2", "image_size": 32, "channels": (4, 8), "hidden_size": 8,
         "dropout": 0.1, "max_epochs": 3, "batch_size": 8, "lr": 1e-2,
         "validation_fraction": None, "patience": 1,
         **IMAGE_TOWER, "image_encoder__layers": "stages"}, supervised=True),
    "LateFusionClassifier": Case(lambda: skmm.baselines.LateFusionClassifier(
        image_size=16, channels=(4, 8), dense_size=8, text_encoder=words(), max_epochs=2,
        batch_size=16, random_state=0),
        {"image_col": "image2", "text_col": "text2", "image_encoder": "efficientnet_lite0",
         "text_encoder": "use", "image_size": 8, "channels": (2, 4), "dense_size": 4,
         "fusion_size": 4, "dropout": 0.1, "max_epochs": 3, "batch_size": 8, "lr": 1e-2,
         "validation_fraction": None, **RECURRENT}, supervised=True),
    # lr and the head's features: a valid loss that rises, then falls: patience acts
    "LateFusionClassifier[towers]": Case(lambda: skmm.baselines.LateFusionClassifier(
        image_encoder=ImageTower(layers="head"), text_encoder=short_texts(), max_epochs=8,
        batch_size=16, lr=5e-3, random_state=0),
        {"image_size": 32, "channels": (4, 8), "dense_size": 8, "patience": 1,
         **IMAGE_TOWER, "image_encoder__layers": "stages", **TEXT_TOWER}, supervised=True),
    "TextSVMClassifier": Case(lambda: skmm.baselines.TextSVMClassifier(random_state=0),
                              {"text_col": "text2", "text_encoder": "use", "stop_words": None,
                               "ngram_range": (1, 1), "min_df": 2, "C": 0.01,
                               "class_weight": "balanced", "max_iter": 1},
                              supervised=True),
    # no caption repeats a word, so sublinear_tf (1 + log tf) acts only through the raise
    # here; tests/baselines/test_classifiers.py shows it on repeated words
    "TextSVMClassifier[tower]": Case(lambda: skmm.baselines.TextSVMClassifier(
        text_encoder=short_texts(), random_state=0),
        {"stop_words": None, "ngram_range": (1, 1), "min_df": 2, "sublinear_tf": False,
         **TEXT_TOWER}, supervised=True),
    # the feature baselines: PCA of the pixels and the mean of Word2Vec vectors
    "ImageFeatures": Case(lambda: skmm.baselines.ImageFeatures(
        image_features="pca", image_size=16, n_image_components=5, random_state=0),
        {"image_col": "image2", "image_features": "convae", "image_size": 8,
         "n_image_components": 3}),
    "ImageFeatures[pixels]": Case(lambda: skmm.baselines.ImageFeatures(
        image_features="pixels", image_size=8), {"image_features": "pca",
                                                 "n_image_components": 3}),
    # a transformer's features (like "vector", a column of vectors): no size, no components
    "ImageFeatures[transformer]": Case(lambda: skmm.baselines.ImageFeatures(
        image_features=skmm.inputs.ImageLoader(image_size=8)),
        {"image_size": 8, "n_image_components": 3, "image_features__image_col": "image2",
         "image_features__image_size": 4, "image_features__mode": "L"}),
    "EarlyFusion": Case(lambda: skmm.baselines.EarlyFusion(**blocks()), BLOCKS_OWN),
    "CollectiveMF": Case(lambda: skmm.baselines.CollectiveMF(n_components=3, **blocks()),
                         {**BLOCKS_OWN, "n_components": 2, "alpha": 1.0, "max_iter": 1,
                          "tol": 0.5}),
    "AutoencoderMF": Case(lambda: skmm.baselines.AutoencoderMF(
        image_features="pca", n_components=3, hidden_size=16, max_epochs=2, image_size=16,
        **blocks()),
        {**BLOCKS_OWN, "n_components": 2, "hidden_size": 8, "max_epochs": 3, "batch_size": 8,
         "lr": 1e-2, "validation_fraction": 0.25}),
    "ConvAutoencoder": Case(lambda: skmm.baselines.ConvAutoencoder(
        image_size=16, n_components=4, conv_channels=4, max_epochs=2, batch_size=16,
        random_state=0),
        {"image_col": "image2", "image_size": 32, "n_components": 3, "conv_channels": 2,
         "max_epochs": 3, "batch_size": 8, "lr": 1e-2, "validation_fraction": 0.25}),
    # the inputs' transformers
    "ImageLoader": Case(lambda: skmm.inputs.ImageLoader(image_size=16),
                        {"image_col": "image2", "image_size": 8, "mode": "L"}),
    "TextFeatures": Case(lambda: skmm.inputs.TextFeatures(vector_size=8, random_state=0),
                         {**WORD2VEC, "text_col": "text2", "text_features": "tfidf+word2vec",
                          "max_text_features": 5}),
    "TextFeatures[tfidf]": Case(lambda: skmm.inputs.TextFeatures(text_features="tfidf"),
                                {**WORD2VEC, "text_features": "word2vec",
                                 "max_text_features": 5}),
    # numeric columns of X: no text column, no words
    "TextFeatures[columns]": Case(lambda: skmm.inputs.TextFeatures(text_features=["radius"]),
                                  {**WORD2VEC, "text_col": "text2", "max_text_features": 5}),
    "MeanWordVectors": Case(lambda: skmm.inputs.MeanWordVectors(vector_size=8, random_state=0),
                            {**WORD2VEC, "text_col": "text2", "min_count": 8}),
    # transform reads every word's pretrained vector, those fit saw or not
    "MeanWordVectors[wordllama]": Case(lambda: skmm.inputs.MeanWordVectors(
        word_vectors="wordllama"), {"tokenizer": str.split, "word_vector_dims": 64,
                                    "vector_size": 8, "min_count": 8}),
    "TextEncoder": Case(lambda: skmm.inputs.TextEncoder(vector_size=8, random_state=0),
                        {**WORD2VEC, "min_count": 8, "max_vocabulary": 5, "max_length": 3,
                         "word2vec_epochs": 1}, column="text", output=encoded),
    "TextEncoder[wordllama]": Case(lambda: skmm.inputs.TextEncoder(word_vectors="wordllama"),
                                   {"tokenizer": str.split, "word_vector_dims": 64,
                                    "vector_size": 8, "word2vec_epochs": 1, "min_count": 8,
                                    "max_vocabulary": 5, "max_length": 3},
                                   column="text", output=encoded),
    # the towers on their own, a column named
    "ImageTower": Case(lambda: ImageTower("image", image_size=32),
                       {"column": "image2", "image_size": 64, "layers": "head"},
                       exempt=TOWER_EXEMPT),
    "TextTower": Case(lambda: TextTower("text", max_words=6),
                      {"column": "text2", "max_words": None, "windows": 1}, exempt=TOWER_EXEMPT),
}


def shapes():
    X = make_shapes(32, image_size=16, label="color", random_state=0)
    # other columns of the same kinds, for the column parameters
    return X.assign(image2=list(X["image"].iloc[::-1]), text2=list(X["text"].iloc[::-1]))


@pytest.fixture(scope="module")
def X():
    return shapes()


def outcome(case, est, X):
    """``("raised", message)`` if fit raises a ValueError, else ``("output", arrays)``."""
    try:
        if case.column is not None:
            est.fit(X[case.column])
        else:
            est.fit(X, X["label"]) if case.supervised else est.fit(X)
    except ValueError as err:
        return "raised", str(err)
    out = (case.output(est, X) if case.output is not None
           else est.transform(X) if hasattr(est, "transform") else est.predict_proba(X)
           if hasattr(est, "predict_proba") else est.decision_function(X))  # an SVM
    score = est.score(X, X["label"]) if hasattr(est, "score") else None
    return "output", (np.asarray(out, dtype=np.float64), score)


def differs(a, b) -> bool:
    (out_a, score_a), (out_b, score_b) = a, b
    return out_a.shape != out_b.shape or not np.allclose(out_a, out_b) or score_a != score_b


def set_alternative(est, name, value):
    if name.startswith("modalities["):  # a setting of one common-space modality's encoder
        modality, _, setting = name[len("modalities["):].partition("]__")
        modalities = dict(est.modalities)
        column, encoder = modalities[modality]
        modalities[modality] = (column, clone(encoder).set_params(**{setting: value}))
        return est.set_params(modalities=modalities)
    return est.set_params(**{name: value})


@pytest.fixture(scope="module")
def baselines(X):
    return {name: outcome(case, case.make(), X) for name, case in CASES.items()}


PARAMETERS = [(name, p) for name, case in CASES.items() for p in case.alternatives]


@pytest.mark.parametrize("name,parameter", PARAMETERS,
                         ids=[f"{n}-{p}" for n, p in PARAMETERS])
def test_parameter_acts_or_raises_naming_itself(name, parameter, X, baselines):
    case = CASES[name]
    kind, base = baselines[name]
    assert kind == "output", f"the base configuration of {name} does not fit: {base}"
    est = set_alternative(case.make(), parameter, case.alternatives[parameter])
    kind, result = outcome(case, est, X)
    leaf = parameter.rpartition("__")[2]
    if kind == "raised":
        assert leaf in result, f"fit raised without naming {leaf!r}: {result}"
    else:
        assert differs(base, result), (
            f"{name}: {parameter}={case.alternatives[parameter]!r} changed nothing")


def _nested_names(est) -> set:
    names = set(est.get_params(deep=True))
    modalities = est.get_params().get("modalities")
    if isinstance(modalities, dict):
        for modality, spec in modalities.items():
            encoder = spec[1] if isinstance(spec, tuple) else None
            if hasattr(encoder, "get_params"):
                names |= {f"modalities[{modality}]__{k}" for k in encoder.get_params()}
    return names


def _encoder_of(est, prefix):
    if prefix.startswith("modalities["):
        return est.modalities[prefix[len("modalities["):-1]][1]
    return est.get_params()[prefix]


@pytest.mark.parametrize("name", list(CASES))
def test_every_parameter_has_an_alternative(name):
    """A parameter of the case's estimator or of its encoders that is neither tried
    nor exempt fails: each new parameter must show that it acts. A parameter may be
    tried by another case of the same estimator class (the same name, e.g. a
    modality's tower setting tried in the supervised space and not again without
    labels)."""
    est = CASES[name].make()
    tried = {p for case in CASES.values() if type(case.make()) is type(est)
             for p in case.alternatives}
    missing = sorted(n for n in _nested_names(est) - tried
                     if not exempt(n) and n not in CASES[name].exempt)
    assert not missing, f"{name}: no alternative for {missing}"


def test_every_setting_of_every_encoder_is_tried():
    """Each encoder class has every parameter tried by some case (or exempt)."""
    tried = {}
    for case in CASES.values():
        est = case.make()
        for p in case.alternatives:
            prefix, _, setting = p.rpartition("__")
            if prefix:
                tried.setdefault(type(_encoder_of(est, prefix)), set()).add(setting)
    for cls in (ImageTower, TextTower, ConvEncoder, ModuleEncoder, RecurrentTextEncoder,
                MeanWordEncoder, TextMatrix):
        every = set(cls._defaults()) | ({"module"} if cls is ModuleEncoder else set())
        missing = sorted(every - tried.get(cls, set()) - ENCODER_EXEMPT)
        assert not missing, f"{cls.__name__}: no case tries {missing}"
