"""skmm.nn.classifiers: output shapes and the loss of the classifiers' modules."""

import numpy as np
import pytest
import torch

from skmm.nn.classifiers import ImageCNN, LateFusion


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
    module = LateFusion(vectors, 7, (3, 8, 8), (4, 6), 9, 0.3, n_classes=2,
                        fusion_size=fusion_size)
    assert module.embedding.weight.requires_grad
    image = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    tokens = torch.tensor([[3, 4, 5], [6, 0, 0], [7, 8, 0], [1, 9, 9]])
    lengths = torch.tensor([3, 1, 2, 3])
    logits = module(image, tokens, lengths)
    assert logits.shape == (4, 2)
    loss = module.loss_terms(logits, {"y": torch.tensor([0, 1, 1, 0])})["loss"]
    loss.backward()
    assert torch.count_nonzero(module.embedding.weight.grad[0]) == 0
