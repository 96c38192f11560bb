"""The FLOP accounting of benchmarks/gpu_throughput.py, whose figures the docs report."""

import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
gpu_throughput = pytest.importorskip("gpu_throughput")


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_rnn_flops_equal_the_counted_flops_of_an_unrolled_cell(kind):
    steps, batch = 5, 4
    rnn = getattr(torch.nn, kind)(30, 20, batch_first=True)
    cell = getattr(torch.nn, kind + "Cell")(30, 20)  # decomposes into counted matmuls
    x, h = torch.randn(batch, 30), torch.zeros(batch, 20)
    counter = FlopCounterMode(display=False)
    with counter:
        for _ in range(steps):
            h = cell(x, (h, h))[0] if kind == "LSTM" else cell(x, h)
    assert gpu_throughput.rnn_flops(rnn, steps * batch) == counter.get_total_flops()


def test_rnn_flops_of_a_stacked_bidirectional_lstm():
    rnn = torch.nn.LSTM(300, 512, num_layers=2, bidirectional=True)
    per_step = 2 * 4 * 512 * (300 + 512) * 2 + 2 * 4 * 512 * (1024 + 512) * 2
    assert gpu_throughput.rnn_flops(rnn, 7) == 7 * per_step


def test_bf16_peak_by_device_name():
    assert gpu_throughput.bf16_peak("NVIDIA H100 80GB HBM3") == 989.4
    assert gpu_throughput.bf16_peak("NVIDIA H100 PCIe") == 756.0
    assert gpu_throughput.bf16_peak("NVIDIA H200") == 989.4
    assert gpu_throughput.bf16_peak("Tesla T4") is None
    assert gpu_throughput.options("bf16+cl") == {"precision": "bf16", "channels_last": True,
                                                 "compile": False}
    with pytest.raises(SystemExit, match="fp16"):
        gpu_throughput.options("fp16")
