"""Cross-modal retrieval on the emoji dataset: CVS, M-CVS, RVS, CCA; and training speed.

    python benchmarks/common_space_retrieval.py [--quick] [--epochs 30] [--image-size 32]
        [--n-components 64] [--min-items 4] [--timing-epochs 3] [--threads N]

Three modalities of the bundled emoji table (``skmm.datasets.load_emoji``): the
picture, the English name and the Chinese name (jieba), with the Unicode
subgroup as the class. Subgroups with fewer than ``--min-items`` emoji are
dropped; the rest is split 70/30, stratified by subgroup. Written to
``benchmarks/results/common_space_retrieval.md``:

1. mAP@50 of every ordered pair of modalities on the held-out split (query
   modality -> gallery modality; the gallery is the held-out split) for
   CVS, CVS without attention, M-CVS (image + English, then Chinese added),
   RVS (image as reference; image + English, then Chinese), linear CCA
   (scikit-learn, one CCA per pair of modalities on PCA / TF-IDF-SVD
   features), and random embeddings (the chance level of this mAP).
2. The time of a training epoch through skorch against a plain PyTorch loop
   over the same module, the same batches and the same optimiser (target:
   skorch adds at most 10%), epochs interleaved.
3. The time of an epoch at each M-CVS stage against a CVS fit with all
   modalities.

Every model trains its own CNN and mean-pools fine-tuned Word2Vec vectors
(each modality's encoder: ``ConvEncoder`` and ``MeanWordEncoder``, pinned: the
embedder's defaults are the frozen pretrained towers;
``benchmarks/paired_retrieval.py`` and ``benchmarks/towers.py`` measure those).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skmm.datasets import load_emoji
from skmm.embedders.common_space import CommonSpaceEmbedder
from skmm.encoders import ConvEncoder, MeanWordEncoder
from skmm.inputs import english_tokenize, jieba_tokenize
from skmm.metrics import mean_average_precision, retrieval_table
from skmm.training import ClassBalancedLoader, TensorDict

sys.path.insert(0, str(Path(__file__).parent))
from _common import epoch_overhead, machine  # noqa: E402

RESULTS = Path(__file__).parent / "results"
K = 50
THREE = ("image", "en", "zh")
PAIRS = [(q, g) for q in THREE for g in THREE if q != g]


def modalities(image_size, names=THREE):
    """The thesis's encoders: the CNN at ``image_size``, mean word vectors (jieba for zh)."""
    specs = {"image": ("image", ConvEncoder(image_size=image_size)),
             "en": ("text", MeanWordEncoder()),
             "zh": ("text_zh", MeanWordEncoder(tokenizer="jieba"))}
    return {m: specs[m] for m in names}


def load(image_size, min_items, quick):
    frame = load_emoji(image_size=image_size)
    counts = frame["subgroup"].value_counts()
    keep = counts[counts >= min_items].index
    dropped = counts[counts < min_items]
    frame = frame[frame["subgroup"].isin(keep)].reset_index(drop=True)
    if quick:  # the 30 largest subgroups
        top = frame["subgroup"].value_counts().index[:30]
        frame = frame[frame["subgroup"].isin(top)].reset_index(drop=True)
    train, test = train_test_split(frame, test_size=0.3, stratify=frame["subgroup"],
                                   random_state=0)
    info = {"rows": len(frame), "classes": frame["subgroup"].nunique(),
            "dropped_classes": len(dropped), "dropped_rows": int(dropped.sum()),
            "train": len(train), "test": len(test)}
    return train, test, info


def table_of(emb: CommonSpaceEmbedder, test) -> pd.DataFrame:
    y = test["subgroup"].to_numpy()
    return retrieval_table({m: emb.embed(test, m) for m in emb.modalities_}, y, k=K)


def cca_table(train, test, n_components, seed) -> pd.DataFrame:
    """One linear CCA per pair of modalities, on PCA (images) / TF-IDF + SVD (texts)."""

    def features(column):
        if column == "image":
            def flat(df):
                return np.stack(df["image"].to_numpy()).reshape(len(df), -1) / 255.0
            model = PCA(64, random_state=seed).fit(flat(train))
            return model.transform(flat(train)), model.transform(flat(test))
        tokenizer = english_tokenize if column == "text" else jieba_tokenize
        model = make_pipeline(TfidfVectorizer(tokenizer=tokenizer, token_pattern=None,
                                              lowercase=False),
                              TruncatedSVD(64, random_state=seed)).fit(train[column])
        return model.transform(train[column]), model.transform(test[column])

    columns = {"image": "image", "en": "text", "zh": "text_zh"}
    feats = {m: features(c) for m, c in columns.items()}
    y = test["subgroup"].to_numpy()
    table = pd.DataFrame(np.nan, index=pd.Index(list(columns), name="query"),
                         columns=pd.Index(list(columns), name="gallery"))
    for a, b in [("image", "en"), ("image", "zh"), ("en", "zh")]:
        cca = CCA(n_components=n_components, max_iter=1000).fit(feats[a][0], feats[b][0])
        za, zb = cca.transform(feats[a][1], feats[b][1])
        table.loc[a, b] = mean_average_precision(za, y, zb, y, k=K)
        table.loc[b, a] = mean_average_precision(zb, y, za, y, k=K)
    return table


def random_table(test, n_components, seed) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = test["subgroup"].to_numpy()
    return retrieval_table({m: rng.normal(size=(len(test), n_components)) for m in THREE}, y,
                           k=K)


def plain_epoch(module, optimizer, loader, device):
    """One epoch of the reference loop: the same batches, forward, loss, step."""
    module.train()
    host = module.host_keys
    for batch, _ in loader:
        batch = {k: v if k in host else v.to(device) for k, v in batch.items()}
        optimizer.zero_grad()
        loss = module.loss_terms(module(**batch), batch)["loss"]
        loss.backward()
        optimizer.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def overhead(emb: CommonSpaceEmbedder, train, epochs):
    """Median epoch time of skorch vs a plain loop over copies of the fitted CVS module.

    The plain loop draws the same class-balanced batches as skorch's iterator.
    """
    dataset = training_data(emb, train)
    loader = ClassBalancedLoader(dataset, batch_size=emb.batch_size, shuffle=True,
                                 generator=torch.Generator().manual_seed(0),
                                 items_per_class=emb.items_per_class)
    o = epoch_overhead(emb, None, epochs, dataset=dataset,
                       plain=lambda ref, opt, device: plain_epoch(ref, opt, loader, device))
    return o["skorch_epoch_s"], o["plain_epoch_s"]


def training_data(emb, train):
    data = emb._prepare_fitted(train, list(emb.modalities_))
    lookup = {c: i for i, c in enumerate(emb.classes_.tolist())}
    data["y"] = torch.tensor([lookup[v] for v in train["subgroup"].tolist()])
    return TensorDict(data)


def stage_timing(embedders: dict, train, epochs) -> dict:
    """Median epoch time of each embedder's last stage, epochs interleaved.

    Each net is a copy of the fitted one (same frozen and trainable parts),
    trained one epoch at a time in turn, so machine load hits all alike.
    """
    nets = {name: copy.deepcopy(emb.net_) for name, emb in embedders.items()}
    data = {name: training_data(emb, train) for name, emb in embedders.items()}
    times = {name: [] for name in nets}
    for epoch in range(epochs + 1):  # the first epoch of each is a warm-up
        for name, net in nets.items():
            t = time.perf_counter()
            net.partial_fit(data[name], epochs=1)
            if epoch:
                times[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) for name, v in times.items()}


def fmt(x):
    return "" if pd.isna(x) else f"{x:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="30 largest subgroups, 16 px, 8 epochs: a smoke run")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of every stage")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--n-components", type=int, default=64)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--min-items", type=int, default=4)
    parser.add_argument("--timing-epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(RESULTS / "common_space_retrieval.md"))
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.image_size, args.timing_epochs = min(args.epochs, 8), 16, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    train, test, info = load(args.image_size, args.min_items, args.quick)
    # the CNN and mean word vectors, not the defaults (the frozen pretrained towers)
    settings = dict(n_components=args.n_components,
                    hidden_size=args.hidden_size, lr=args.lr, max_epochs=args.epochs,
                    batch_size=128, items_per_class=4, device=args.device,
                    random_state=args.seed)
    three, two = modalities(args.image_size), modalities(args.image_size, ("image", "en"))
    y_train = train["subgroup"]

    tables, fit_s, stage_s = {}, {}, {}

    snapshots = {}

    def run(name, emb, stages):
        t = time.perf_counter()
        emb.set_params(modalities=stages[0]).fit(train, y_train)
        for mods in stages[1:]:
            snapshots[name] = copy.deepcopy(emb)  # for the interleaved stage timing
            emb.set_params(modalities=mods).partial_fit(train, y_train)
        fit_s[name] = time.perf_counter() - t
        stage_s[name] = [s["epoch_seconds"] for s in emb.stages_]
        tables[name] = table_of(emb, test)
        print(f"{name}: {fit_s[name]:.0f} s", flush=True)
        return emb

    cvs = run("CVS", CommonSpaceEmbedder(**settings), [three])
    run("CVS, no attention", CommonSpaceEmbedder(**settings, attention=False), [three])
    mcvs = run("M-CVS (image+en, then zh)", CommonSpaceEmbedder(**settings, strategy="mcvs"),
               [two, three])
    run("RVS (image reference; image+en, then zh)",
        CommonSpaceEmbedder(**settings, strategy="rvs"), [two, three])
    t = time.perf_counter()
    tables["linear CCA (per pair)"] = cca_table(train, test, 32, args.seed)
    fit_s["linear CCA (per pair)"] = time.perf_counter() - t
    tables["random embeddings (chance)"] = random_table(test, args.n_components, args.seed)
    skorch_epoch, plain_epoch_s = overhead(cvs, train, args.timing_epochs)
    stages = stage_timing({"CVS, all three modalities": cvs,
                           "M-CVS stage 1 (image+en)": snapshots["M-CVS (image+en, then zh)"],
                           "M-CVS stage 2 (zh added, rest frozen)": mcvs},
                          train, args.timing_epochs)
    total = time.perf_counter() - start

    command = "python benchmarks/common_space_retrieval.py " + " ".join(sys.argv[1:])
    lines = [
        "# Cross-modal retrieval in a common vector space (emoji: image, English, Chinese)",
        "",
        f"Machine: {machine()}", "",
        f"Command: `{command.strip()}` (total {total:.0f} s)", "",
        f"Data: `load_emoji(image_size={args.image_size})`, class = Unicode subgroup; "
        f"{info['dropped_classes']} subgroups with fewer than {args.min_items} emoji dropped "
        f"({info['dropped_rows']} rows), leaving {info['rows']} emoji in {info['classes']} "
        f"classes; stratified split: {info['train']} train, {info['test']} held out. "
        f"Queries and gallery are the held-out rows.", "",
        "Model: `CommonSpaceEmbedder` with the encoders `ConvEncoder(image_size="
        f"{args.image_size})` and `MeanWordEncoder()` (`tokenizer=\"jieba\"` for zh), "
        f"n_components={args.n_components}, "
        f"hidden_size={args.hidden_size}, lr={args.lr}, "
        f"max_epochs={args.epochs}, batch_size=128, items_per_class=4)`, the thesis's loss "
        "weights and margins (gammas 0.25/0.25/0.5, margins 1.0), mean-pooled fine-tuned "
        f"Word2Vec vectors; {args.n_components} dimensions instead of the thesis's 512 to fit "
        "the CPU budget. M-CVS and RVS train every stage for the same number of epochs.", "",
        f"## mAP@{K}, held-out split (query modality -> gallery modality)", "",
        "| model | " + " | ".join(f"{q} -> {g}" for q, g in PAIRS)
        + " | mean cross-modal | image -> image | en -> en | zh -> zh | fit time |",
        "| --- |" + " --- |" * (len(PAIRS) + 5),
    ]
    for name, table in tables.items():
        cross = [table.loc[q, g] for q, g in PAIRS]
        diag = [table.loc[m, m] for m in THREE]
        fit = f"{fit_s[name]:.0f} s" if name in fit_s else ""
        lines.append(f"| {name} | " + " | ".join(fmt(v) for v in cross)
                     + f" | **{fmt(np.nanmean(cross))}** | "
                     + " | ".join(fmt(v) for v in diag) + f" | {fit} |")
    lines += [
        "",
        "The intra-modal columns leave the query out of its own ranking. The mAP@K here "
        "divides by the relevant items retrieved in the top K (the thesis's definition), so "
        "chance is not 1/classes: the random-embedding row gives it.",
        "",
        "## Training speed", "",
        "| measurement | value |", "| --- | --- |",
        f"| CVS epoch, skorch (median of {args.timing_epochs}) | {skorch_epoch:.3f} s |",
        f"| CVS epoch, plain PyTorch loop, same module and batches | {plain_epoch_s:.3f} s |",
        f"| skorch / plain (target <= 1.10) | {skorch_epoch / plain_epoch_s:.3f} |",
        "",
        "## Time per epoch: M-CVS stages against a CVS fit with all modalities", "",
        f"Copies of the fitted nets, one epoch each in turn (median of {args.timing_epochs}), "
        "so that the load of the machine hits all alike.", "",
        "| training | epoch | / CVS all |", "| --- | --- | --- |",
    ]
    base = stages["CVS, all three modalities"]
    lines += [f"| {name} | {sec:.3f} s | {sec / base:.2f} |" for name, sec in stages.items()]
    lines += [
        "",
        "A stage that adds a modality trains only its branch and attention blocks; the "
        "frozen modalities still run forward (no backward) for the inter-modal terms.", "",
        "Median epoch time while fitting (not interleaved, so sensitive to other load): "
        + "; ".join(f"{name}: " + " / ".join(f"{x:.2f} s" for x in secs)
                    for name, secs in stage_s.items()) + ".",
        "",
    ]
    for name in ("CVS", "M-CVS (image+en, then zh)"):
        lines += [f"### Full table: {name}", "", tables[name].map(fmt).to_markdown(), ""]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
