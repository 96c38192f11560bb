"""skmm.nn.encoders' user image modules, and the models that take them or vectors.

Also :mod:`skmm.training.features`: features computed once, portable pickles.
"""

import pickle

import pytest
import torch
from torch import nn

from skmm.nn.common_space import CommonSpaceNet, ModalityBranch
from skmm.nn.crvae import CRVAE
from skmm.nn.encoders import ConvEncoder, ImageFeatureEncoder, as_features
from skmm.nn.mmeda import MMEDA, ImageAutoencoder
from skmm.training.features import PortableModule, compute_features, probe_features


def backbone(width=5):
    return nn.Sequential(nn.Conv2d(3, width, 3, stride=2), nn.BatchNorm2d(width),
                         nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1))  # (N, width, 1, 1)


def images(n=6, size=16):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


def test_as_features_flattens_and_refuses_other_shapes():
    assert as_features(torch.zeros(4, 5, 1, 1), 4).shape == (4, 5)
    assert as_features(torch.zeros(4, 5, dtype=torch.float64), 4).dtype == torch.float32
    with pytest.raises(ValueError, match=r"image_encoder must map .* \(N, D\).*shape \(4,\)"):
        as_features(torch.zeros(4), 4)
    with pytest.raises(ValueError, match="N=3 it returned a tensor of shape"):
        as_features(torch.zeros(4, 2), 3)
    with pytest.raises(ValueError, match="returned a tuple"):
        as_features((torch.zeros(4, 2),), 4)


def test_frozen_encoder_stays_in_eval_mode_without_gradients():
    encoder = ImageFeatureEncoder(backbone())
    encoder.train()
    assert not encoder.backbone.training
    assert not any(p.requires_grad for p in encoder.parameters())
    before = encoder.backbone[1].running_mean.clone()
    out = encoder(images())
    assert out.shape == (6, 5) and out.dtype == torch.float32
    # in eval mode: BatchNorm's running statistics are not updated, no dropout
    torch.testing.assert_close(encoder.backbone[1].running_mean, before)
    torch.testing.assert_close(encoder(images()), out)


def test_encoder_passes_rgb_in_zero_one():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(x)
            return x.mean((2, 3))

    image = images(2)
    ImageFeatureEncoder(Probe())(image)
    assert seen[0].dtype == torch.float32
    torch.testing.assert_close(seen[0], image.float() / 255)


def test_fine_tuned_encoder_trains_what_required_a_gradient():
    module = backbone()
    module[0].bias.requires_grad_(False)  # the user froze it
    encoder = ImageFeatureEncoder(module, fine_tune=True)
    assert encoder.tunable == ("0.weight", "1.weight", "1.bias")
    assert module[0].weight.requires_grad and not module[0].bias.requires_grad
    encoder.train()
    assert encoder.backbone.training  # fine-tuning follows the model's mode
    encoder.set_trainable(False)
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.set_trainable(True)
    assert [n for n, p in module.named_parameters() if p.requires_grad] == list(encoder.tunable)


def test_compute_features_once_in_batches_gives_normal_tensors():
    encoder = ImageFeatureEncoder(backbone())
    encoder.train()
    data = images(10)
    rows = []
    encoder.backbone.register_forward_hook(lambda m, i, o: rows.append(len(o)))
    features = compute_features(encoder, [data[:4], data[4:8], data[8:]], device="cpu")
    assert rows == [4, 4, 2]
    assert features.shape == (10, 5) and features.dtype == torch.float32
    assert not features.is_inference()  # training may save it for backward
    torch.testing.assert_close(features, encoder(data))
    assert encoder.training  # the mode is restored
    weight = torch.ones(5, 2, requires_grad=True)
    (features @ weight).sum().backward()


def test_probe_features_finds_the_width():
    assert probe_features(ImageFeatureEncoder(backbone(7)), (3, 16, 16), device="cpu") == 7


def cuda_tagged(monkeypatch):
    """Make torch.save tag every storage as CUDA, as a pickle made on a GPU is."""
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")


def test_portable_module_loads_a_cuda_pickle_on_the_cpu(monkeypatch):
    module = backbone()
    with monkeypatch.context() as m:
        cuda_tagged(m)
        plain = pickle.dumps(module)
        portable = pickle.dumps(PortableModule(module))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA"):  # what the simulation stands for
        pickle.loads(plain)
    back = pickle.loads(portable)
    assert isinstance(back, nn.Sequential)
    for a, b in zip(back.state_dict().values(), module.state_dict().values()):
        assert a.device.type == "cpu"
        torch.testing.assert_close(a, b)


# ---- the models ------------------------------------------------------------------

VECTORS = torch.zeros(6, 4)  # word vectors: 6 words, 4 dimensions
VECTORS[3:] = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))


def text_batch(n):
    tokens = torch.randint(3, 6, (n, 5), generator=torch.Generator().manual_seed(1))
    return tokens, torch.full((n,), 5)


def test_crvae_with_a_user_encoder_rebuilds_pixels_from_features():
    torch.manual_seed(0)
    model = CRVAE(VECTORS, (3, 16, 16), conv_channels=4, hidden_size=8, fusion_size=16,
                  n_components=3, image_encoder=ImageFeatureEncoder(backbone(), 5)).eval()
    image = images(4)
    tokens, lengths = text_batch(4)
    features = model.image_encoder(image)
    mu, _ = model.encode(image, tokens, lengths)
    torch.testing.assert_close(model.encode(None, tokens, lengths, features)[0], mu)
    out = model(image, tokens, lengths, image_features=features)
    assert out["image_logits"].shape == (4, 3, 16, 16)
    terms = model.loss_terms(out, {"image": image, "tokens": tokens})
    assert torch.isfinite(terms["image"])


def test_crvae_on_vectors_rebuilds_the_vectors():
    torch.manual_seed(0)
    model = CRVAE(VECTORS, (3, 16, 16), hidden_size=8, fusion_size=16, n_components=3,
                  image_vectors=7)
    vectors = torch.randn(4, 7)
    tokens, lengths = text_batch(4)
    out = model(tokens=tokens, lengths=lengths, image_features=vectors)
    assert out["image_logits"].shape == (4, 7)
    terms = model.loss_terms(out, {"image_features": vectors, "tokens": tokens})
    torch.testing.assert_close(terms["image"], ((out["image_logits"] - vectors) ** 2).mean())
    assert not any(isinstance(m, ConvEncoder) for m in model.modules())


def test_image_autoencoder_codes_features_linearly():
    ae = ImageAutoencoder((3, 16, 16), 4, 6, encoder=ImageFeatureEncoder(backbone(), 5))
    assert ae.to_code.in_features == 5
    image = images(3)
    out = ae(image)
    assert out["code"].shape == (3, 6) and out["image_logits"].shape == (3, 3, 16, 16)
    torch.testing.assert_close(ae.encode(features=ae.conv(image)), out["code"])
    vec = ImageAutoencoder((3, 16, 16), 4, 6, vectors=7)
    v = torch.randn(3, 7)
    out = vec(image_features=v)
    assert out["image_logits"].shape == (3, 7)
    assert vec.loss_terms(out, {"image_features": v})["image"] >= 0


def test_mmeda_embeds_from_cached_features():
    torch.manual_seed(0)
    columns = torch.randn(4, 6)  # 4 text features, 6 training rows
    model = MMEDA((3, 16, 16), columns, n_components=3, conv_channels=4, image_code=5,
                  text_code=4, hidden_size=8, fusion_size=8,
                  image_encoder=ImageFeatureEncoder(backbone(), 5)).eval()
    image, text = images(6), columns.T
    features = model.image_ae.conv(image)
    torch.testing.assert_close(model.embed(None, text, features), model.embed(image, text))
    out = model(image=image, text=text, image_features=features)
    assert set(model.loss_terms(out, {"image": image, "text": text})) == {
        "image", "factorization", "text", "columns", "loss"}


def test_common_space_branch_reads_cached_features_and_freeze_keeps_frozen_modules():
    frozen = ImageFeatureEncoder(backbone(), 5)
    tuned = ImageFeatureEncoder(backbone(), 5, fine_tune=True)
    branches = {"a": ModalityBranch("image", frozen, 8, 4),
                "b": ModalityBranch("image", tuned, 8, 4)}
    net = CommonSpaceNet(branches, 4, 2).eval()
    image = images(4)
    mask = torch.ones(4, dtype=torch.bool)
    direct = net(a__image=image, a__mask=mask)["a"][1]
    cached = net(a__features=frozen(image), a__mask=mask)["a"][1]
    torch.testing.assert_close(cached, direct)
    net.freeze(classifier=True, word_vectors=False)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in tuned.parameters())
    assert all(p.requires_grad for p in branches["a"].fc.parameters())
    net.trainable = ("a",)
    net.freeze(classifier=False, word_vectors=False)
    assert not any(p.requires_grad for p in tuned.parameters())


def test_recurrent_encoder_with_mean_pooling_appends_the_mean_vector():
    from skmm.nn.embeddings import mean_word_vectors, word_vector_table
    from skmm.nn.encoders import RecurrentTextEncoder

    torch.manual_seed(0)
    table = word_vector_table(VECTORS)
    plain = RecurrentTextEncoder(table, "gru", 8, 2, True)
    pooled = RecurrentTextEncoder(table, "gru", 8, 2, True, mean_pooling=True)
    pooled.rnn.load_state_dict(plain.rnn.state_dict())
    tokens, lengths = text_batch(4)
    out = pooled(tokens, lengths)
    assert pooled.out_features == 16 + VECTORS.shape[1] == out.shape[1]
    torch.testing.assert_close(out[:, :16], plain(tokens, lengths))
    torch.testing.assert_close(out[:, 16:], mean_word_vectors(table(tokens), lengths))


def test_crvae_log_variance_is_bounded():
    from skmm.nn.crvae import LOGVAR_BOUND

    model = CRVAE(VECTORS, (3, 16, 16), conv_channels=4, hidden_size=8, fusion_size=16,
                  n_components=3).eval()
    tokens, lengths = text_batch(4)
    with torch.no_grad():
        model.logvar.bias.fill_(1e4)  # an overshooting update
        assert model.encode(images(4), tokens, lengths)[1].max() == LOGVAR_BOUND
        model.logvar.bias.fill_(-1e4)
        assert model.encode(images(4), tokens, lengths)[1].min() == -LOGVAR_BOUND


def test_crvae_mean_vector_term_rebuilds_the_mean_word_vector():
    from skmm.nn.embeddings import mean_word_vectors

    torch.manual_seed(0)
    model = CRVAE(VECTORS, (3, 16, 16), conv_channels=4, hidden_size=8, fusion_size=16,
                  n_components=3, mean_vector_weight=2.0, scales={"mean_vector": 4.0},
                  bow_weight=0.0).eval()
    tokens, lengths = text_batch(4)
    image = images(4)
    out = model(image, tokens, lengths)
    batch = {"image": image, "tokens": tokens, "lengths": lengths}
    terms = model.loss_terms(out, batch)
    target = mean_word_vectors(model.embedding(tokens), lengths)
    torch.testing.assert_close(terms["mean_vector"], ((out["mean_vector"] - target) ** 2).mean())
    without = {k: v for k, v in out.items() if k != "mean_vector"}
    model.mean_vector = None
    assert set(model.loss_terms(without, batch)) == {"loss", "image", "text", "kl"}
    torch.testing.assert_close(terms["loss"] - model.loss_terms(without, batch)["loss"],
                               2.0 * terms["mean_vector"] / 4.0)
