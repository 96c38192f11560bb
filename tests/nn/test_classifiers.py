"""skmm.nn.classifiers and skmm.nn.tower_heads: output shapes and the loss of the
classifiers' modules."""

import numpy as np
import pytest
import torch

from skmm.nn.classifiers import ImageCNN
from skmm.nn.tower_heads import BranchFusion, CNNBranch, RecurrentBranch


def test_image_cnn_scores_and_loss():
    torch.manual_seed(0)
    module = ImageCNN(1, (16, 12), (4, 8), 10, 0.5, n_classes=3)
    image = torch.randint(0, 256, (5, 1, 16, 12), dtype=torch.uint8)
    logits = module(image)
    assert logits.shape == (5, 3) and logits.dtype == torch.float32
    terms = module.loss_terms(logits, {"y": torch.tensor([0, 1, 2, 0, 1])})
    assert set(terms) == {"loss"} and terms["loss"].ndim == 0


@pytest.mark.parametrize("fusion_size", [None, 6])
def test_late_fusion_scores(fusion_size):
    torch.manual_seed(0)
    vectors = np.random.default_rng(0).standard_normal((10, 5)).astype(np.float32)
    vectors[:3] = 0
    text = RecurrentBranch(vectors, "lstm", 7)
    module = BranchFusion(CNNBranch((3, 8, 8), (4, 6), 9), text, 0.3, n_classes=2,
                          fusion_size=fusion_size)
    assert text.embedding.weight.requires_grad and text.out_features == 7
    image = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    tokens = torch.tensor([[3, 4, 5], [6, 0, 0], [7, 8, 0], [1, 9, 9]])
    lengths = torch.tensor([3, 1, 2, 3])
    logits = module(image=image, tokens=tokens, lengths=lengths)
    assert logits.shape == (4, 2)
    loss = module.loss_terms(logits, {"y": torch.tensor([0, 1, 1, 0])})["loss"]
    loss.backward()
    assert torch.count_nonzero(text.embedding.weight.grad[0]) == 0  # padding
    assert torch.count_nonzero(text.embedding.weight.grad[1]) > 0  # <unk> trains


def test_recurrent_branch_settings():
    vectors = np.random.default_rng(0).standard_normal((10, 5)).astype(np.float32)
    branch = RecurrentBranch(vectors, "gru", 4, num_layers=2, bidirectional=True,
                             mean_pooling=True, fine_tune=False)
    assert isinstance(branch.encoder.rnn, torch.nn.GRU)
    assert branch.out_features == 2 * 4 + 5
    assert not branch.embedding.weight.requires_grad
    out = branch({"tokens": torch.tensor([[3, 4], [5, 0]]), "lengths": torch.tensor([2, 1])})
    assert out.shape == (2, 13)
