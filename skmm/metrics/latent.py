"""Latent diagnostics: is a VAE's latent used, and what does an embedding keep?

* :func:`kl_per_dimension` and :func:`active_units` read the posterior of a
  fitted VAE (its means and log-variances, e.g. ``CRVAEEmbedder`` on your
  table) and say how many latent dimensions carry information. A collapsed
  latent has KL near 0 and no active unit.
* :func:`modality_probe` says how much of each modality an embedding keeps:
  how well it predicts, on held-out rows, a representation of each modality
  alone (:func:`modality_references` builds the default ones: pixel PCA for
  the images, TF-IDF + SVD for the texts).

numpy and scikit-learn only: nothing here imports torch.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.utils import check_array, check_random_state

from skmm.metrics._checks import _check_embedding, _check_int

__all__ = [
    "PROBE_COLUMNS",
    "active_units",
    "kl_per_dimension",
    "modality_probe",
    "modality_references",
]

#: Columns of the table :func:`modality_probe` returns, in order.
PROBE_COLUMNS = ("r2", "r2_std", "r2_chance", "n_features", "n_components", "n_samples")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _check_real(value, name, *, low=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")  # noqa: TRY004
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return float(value)


def _check_matrix(X, name, *, min_samples=1):
    """A 2-D finite float64 array, or a ValueError that names the argument."""
    ndim = np.ndim(X)
    if ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_components), "
                         f"got {ndim} dimension(s) with shape {np.shape(X)}")
    if np.shape(X)[0] < min_samples:
        raise ValueError(f"{name} has {np.shape(X)[0]} row(s); at least {min_samples} needed")
    return _check_embedding(X, min_samples=min_samples, name=name).astype(np.float64,
                                                                          copy=False)


def kl_per_dimension(mu, logvar):
    """Mean KL divergence of a diagonal Gaussian posterior from N(0, 1), per dimension.

    For each latent dimension ``j``, the mean over rows of

    ``KL(N(mu_j, exp(logvar_j)) || N(0, 1)) = 0.5 * (mu_j² + exp(logvar_j) - 1 - logvar_j)``,

    in nats. Summed over dimensions it is the KL term of a VAE's loss. A
    dimension whose KL is about 0 carries no information about the rows: its
    posterior is the prior whatever the input (posterior collapse).

    Parameters
    ----------
    mu : array-like of shape (n_samples, n_components)
        Posterior means, one row per input row (e.g. the encoder's ``mu``
        for a table; convert torch tensors with ``.detach().cpu().numpy()``).
    logvar : array-like of shape (n_samples, n_components)
        Posterior log-variances, same shape as ``mu``.

    Returns
    -------
    kl : ndarray of shape (n_components,)
        float64, non-negative: the mean KL of each dimension, in nats.

    Raises
    ------
    ValueError
        If ``mu`` or ``logvar`` is not a 2-D finite numeric array, or if their
        shapes differ.

    See Also
    --------
    active_units : Dimensions whose posterior mean varies across rows.
    skmm.plotting.plot_latent_diagnostics : Draw both.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import kl_per_dimension
    >>> mu = np.array([[0.0, 1.0], [0.0, -1.0]])
    >>> logvar = np.zeros((2, 2))
    >>> kl_per_dimension(mu, logvar)  # 0.5 * mu² when the variance is 1
    array([0. , 0.5])
    """
    mu = _check_matrix(mu, "mu")
    logvar = _check_matrix(logvar, "logvar")
    if logvar.shape != mu.shape:
        raise ValueError(
            f"logvar has shape {logvar.shape} but mu has shape {mu.shape}; they must match"
        )
    with np.errstate(over="ignore"):
        # expm1(lv) - lv is exp(lv) - 1 - lv without cancellation near lv = 0
        kl = 0.5 * (np.square(mu) + np.expm1(logvar) - logvar)
    return kl.mean(axis=0)


def active_units(mu, threshold=0.01, *, return_variance=False):
    """Number of active latent dimensions: those whose posterior mean varies across rows.

    A unit ``u`` is active when ``Cov_x(E_q(z|x)[z_u]) > threshold``: the
    variance, across rows, of its posterior mean (Burda, Grosse and
    Salakhutdinov, 2016, "Importance weighted autoencoders", who use
    ``threshold=0.01``). An inactive unit encodes the same value for every
    row, so it carries nothing about the input.

    Parameters
    ----------
    mu : array-like of shape (n_samples, n_components)
        Posterior means, one row per input row (at least 2 rows), e.g. a
        VAE embedder's ``transform``.
    threshold : float, default=0.01
        A unit is active when its variance is strictly above this.
    return_variance : bool, default=False
        Also return the variance of each dimension.

    Returns
    -------
    n_active : int
        Number of active dimensions.
    variance : ndarray of shape (n_components,)
        float64, the variance across rows (``ddof=0``) of each dimension of
        ``mu``. Only with ``return_variance=True``.

    Raises
    ------
    ValueError
        If ``mu`` is not a 2-D finite numeric array with at least 2 rows, or
        if ``threshold`` is negative or not a finite number.

    See Also
    --------
    kl_per_dimension : KL of each dimension's posterior from the prior.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import active_units
    >>> mu = np.array([[0.0, 1.0, 0.5], [0.0, -1.0, 0.6]])
    >>> active_units(mu)
    1
    >>> n, variance = active_units(mu, return_variance=True)
    >>> variance
    array([0.    , 1.    , 0.0025])
    """
    mu = _check_matrix(mu, "mu", min_samples=2)
    threshold = _check_real(threshold, "threshold", low=0.0)
    variance = mu.var(axis=0)
    n_active = int(np.count_nonzero(variance > threshold))
    return (n_active, variance) if return_variance else n_active


def _splits(cv, n_samples, random_state):
    from sklearn.model_selection import KFold

    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cv = KFold(_check_int(cv, "cv", low=2, high=n_samples), shuffle=True,
                   random_state=random_state)
    elif isinstance(cv, str) or not hasattr(cv, "split"):
        raise ValueError(f"cv must be an int >= 2 or a cross-validation splitter, got {cv!r}")
    return list(cv.split(np.zeros((n_samples, 1))))


def _cv_r2(Z, R, splits, alpha):
    """Mean and std over folds of the held-out R² of a ridge from standardised Z to R."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = []
    for train, test in splits:
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(Z[train], R[train])
        scores.append(r2_score(R[test], model.predict(Z[test]), multioutput="variance_weighted"))
    return float(np.mean(scores)), float(np.std(scores))


def modality_probe(Z, references, *, cv=3, alpha=1.0, random_state=0):
    """How much of each modality an embedding keeps: held-out R² of predicting it.

    For each reference (a representation of one modality alone, e.g. the
    pixel PCA of the images and the TF-IDF SVD of the texts, see
    :func:`modality_references`), a ridge regression on the standardised
    embedding predicts the reference, and the R² is measured on held-out
    rows (K-fold cross-validation). An embedding that keeps a modality
    predicts its reference well (R² near 1); one that ignores it scores
    about ``r2_chance``, the R² that a random embedding of the same shape
    gets on the same folds (about 0, below it for small tables).

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        The embedding, e.g. an embedder's ``transform`` of a table.
    references : mapping of str to array-like of shape (n_samples, n_features)
        One representation per modality, same rows as ``Z``, e.g.
        ``{"image": pixel_pca, "text": tfidf_svd}``. A 1-D array is one
        feature.
    cv : int or cross-validation splitter, default=3
        Number of folds of a shuffled :class:`~sklearn.model_selection.KFold`
        seeded with ``random_state`` (between 2 and ``n_samples``), or a
        splitter with a ``split`` method. Every reference (and the chance
        level) uses the same folds.
    alpha : float, default=1.0
        Regularisation of the :class:`~sklearn.linear_model.Ridge` probe.
    random_state : int, RandomState instance or None, default=0
        Seeds the folds and the random embedding of ``r2_chance``.

    Returns
    -------
    probe : pandas.DataFrame
        One row per reference (index ``reference``, in the order given),
        columns

        ``r2`` : float
            Mean over folds of the held-out R² (``r2_score`` with
            ``multioutput="variance_weighted"``, so the reference's
            high-variance features weigh most). At most 1; negative when
            the probe does worse than predicting the mean.
        ``r2_std`` : float
            Standard deviation of the R² over folds.
        ``r2_chance`` : float
            The same measure for a standard normal random matrix of the
            shape of ``Z``: the score of an embedding that keeps nothing.
        ``n_features`` : int
            Columns of the reference.
        ``n_components`` : int
            Columns of ``Z``.
        ``n_samples`` : int
            Rows.

    Raises
    ------
    ValueError
        If ``Z`` or a reference is not a finite numeric array, if a
        reference has a different number of rows from ``Z`` (the message
        names it), if ``references`` is empty or not a mapping, or if ``cv``
        or ``alpha`` is invalid.

    See Also
    --------
    modality_references : The default single-modality representations of a table.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import modality_probe
    >>> rng = np.random.default_rng(0)
    >>> image, text = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))
    >>> Z = image @ rng.normal(size=(4, 6))      # keeps the image, not the text
    >>> probe = modality_probe(Z, {"image": image, "text": text})
    >>> round(float(probe.loc["image", "r2"]), 3)
    1.0
    >>> bool(probe.loc["text", "r2"] < 0.05)  # about r2_chance
    True
    """
    Z = _check_matrix(Z, "Z", min_samples=2)
    if not isinstance(references, Mapping) or not references:
        raise ValueError(
            "references must be a non-empty dict of name -> (n_samples, n_features) array, "
            f"got {type(references).__name__}"
        )
    alpha = _check_real(alpha, "alpha", low=0.0)
    checked = {}
    for name, ref in references.items():
        label = f"references[{name!r}]"
        R = check_array(ref, dtype=np.float64, ensure_2d=False, input_name=label)
        if R.ndim == 1:
            R = R[:, None]
        if R.ndim != 2:
            raise ValueError(f"{label} must be 1-D or 2-D, got shape {R.shape}")
        if len(R) != len(Z):
            raise ValueError(f"{label} has {len(R)} rows but Z has {len(Z)}; they must match")
        checked[name] = R
    rng = check_random_state(random_state)
    splits = _splits(cv, len(Z), rng.randint(np.iinfo(np.int32).max))
    noise = rng.standard_normal(Z.shape)
    rows = []
    for R in checked.values():
        r2, r2_std = _cv_r2(Z, R, splits, alpha)
        chance, _ = _cv_r2(noise, R, splits, alpha)
        rows.append((r2, r2_std, chance, R.shape[1], Z.shape[1], len(Z)))
    return pd.DataFrame(rows, columns=list(PROBE_COLUMNS),
                        index=pd.Index(list(checked), name="reference"))


def _identity(tokens):
    return tokens


def modality_references(X, *, image_col="image", text_col="text", n_components=16,
                        image_size=32, random_state=0, tokenizer=None):
    """The default single-modality representations of a table, for :func:`modality_probe`.

    * images: the pixels (:class:`skmm.inputs.ImageLoader`, resized to
      ``image_size``, flattened), standardised, reduced by PCA;
    * texts: TF-IDF of the tokens, reduced by truncated SVD (latent
      semantic analysis).

    Each is what one modality says about a row with no help from the other,
    so an embedding that keeps a modality predicts its reference well.

    Parameters
    ----------
    X : pandas.DataFrame
        The table the embedding was computed on (same rows, same order).
    image_col : str or None, default="image"
        Image column (any cell :func:`skmm.inputs.decode_image` reads);
        ``None`` builds no image reference.
    text_col : str, list of str or None, default="text"
        Text column(s), one reference each; ``None`` builds none.
    n_components : int, default=16
        Dimensions of each reference (capped by what the data allows: at
        most ``n_samples`` for the PCA, below the vocabulary size for SVD).
    image_size : int or (height, width), default=32
        Size the images are resized to before PCA.
    random_state : int, RandomState instance or None, default=0
        Seeds the PCA and SVD solvers.
    tokenizer : {"english", "jieba"}, callable or None, default=None
        How texts are split into tokens (see :func:`skmm.inputs.tokenize`).
        ``None``: jieba for a column with Chinese characters, English
        otherwise.

    Returns
    -------
    references : dict of str to ndarray of shape (n_samples, k)
        Keyed by column name (``{"image": ..., "text": ...}`` with the
        defaults), float64.

    Raises
    ------
    ValueError
        A missing column (:class:`skmm.exceptions.MissingColumnError`), an
        unreadable image or an unusable text cell
        (:class:`skmm.exceptions.InvalidRowsError`), or no column to read.
    TypeError
        If ``X`` is not a DataFrame.

    Examples
    --------
    >>> from skmm.datasets import make_shapes
    >>> from skmm.metrics import modality_references
    >>> X = make_shapes(40, image_size=16, random_state=0)
    >>> refs = modality_references(X, n_components=8)
    >>> {name: ref.shape for name, ref in refs.items()}
    {'image': (40, 8), 'text': (40, 8)}
    """
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skmm.inputs import ImageLoader, check_columns, check_frame
    from skmm.inputs import tokenize as tokenize_column

    X = check_frame(X)
    n_components = _check_int(n_components, "n_components", low=1)
    text_cols = [] if text_col is None else [text_col] if isinstance(text_col, str) else list(
        text_col)
    columns = ([] if image_col is None else [image_col]) + text_cols
    if not columns:
        raise ValueError("image_col and text_col are both None: no reference to build")
    check_columns(X, columns, context="modality_references")
    if len(X) < 2:
        raise ValueError(f"X has {len(X)} row(s); modality_references needs at least 2")
    references = {}
    if image_col is not None:
        pixels = ImageLoader(image_col=image_col, image_size=image_size).fit_transform(X)
        k = min(n_components, *pixels.shape)
        pca = make_pipeline(StandardScaler(), PCA(k, random_state=random_state))
        references[image_col] = pca.fit_transform(pixels.astype(np.float64))
    for col in text_cols:
        tok = tokenizer
        if tok is None:
            has_cjk = X[col].map(lambda s: isinstance(s, str) and bool(_CJK.search(s))).any()
            tok = "jieba" if has_cjk else "english"
        tokens = tokenize_column(X[col], column=col, tokenizer=tok)
        tfidf = TfidfVectorizer(analyzer=_identity).fit_transform(tokens)
        k = min(n_components, tfidf.shape[0], tfidf.shape[1] - 1)
        if k < 1:  # a one-word vocabulary: the tf-idf is the reference
            references[col] = tfidf.toarray()
            continue
        svd = TruncatedSVD(k, random_state=random_state)
        references[col] = svd.fit_transform(tfidf).astype(np.float64, copy=False)
    return references
