"""The FLOP and peak accounting of the throughput benchmarks, whose figures the docs report."""

import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
gpu_throughput = pytest.importorskip("gpu_throughput")
cpu_precision = pytest.importorskip("cpu_precision")
_common = pytest.importorskip("_common")


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
    assert _common.rnn_flops(rnn, steps * batch) == counter.get_total_flops()


def test_rnn_flops_of_a_stacked_bidirectional_lstm():
    rnn = torch.nn.LSTM(300, 512, num_layers=2, bidirectional=True)
    per_step = 2 * 4 * 512 * (300 + 512) * 2 + 2 * 4 * 512 * (1024 + 512) * 2
    assert _common.rnn_flops(rnn, 7) == 7 * per_step


def test_bf16_peak_by_device_name():
    assert gpu_throughput.bf16_peak("NVIDIA H100 80GB HBM3") == 989.4
    assert gpu_throughput.bf16_peak("NVIDIA H100 PCIe") == 756.0
    assert gpu_throughput.bf16_peak("NVIDIA H200") == 989.4
    assert gpu_throughput.bf16_peak("Tesla T4") is None
    assert gpu_throughput.options("bf16+cl") == {"precision": "bf16", "channels_last": True,
                                                 "compile": False}
    with pytest.raises(SystemExit, match="fp16"):
        gpu_throughput.options("fp16")


ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
cpu MHz\t\t: 2596.140
flags\t\t: fpu avx2 fma avx512f avx512bw avx512_bf16

processor\t: 1
vendor_id\t: AuthenticAMD
"""


def test_cpu_peak_of_a_zen4_core_and_an_avx512_xeon():
    info = cpu_precision.cpu_info(ZEN4, lscpu="")
    assert (info["vendor"], info["family"], info["model"]) == ("AuthenticAMD", 25, 17)
    assert info["ghz"] == pytest.approx(2.59614) and "avx512_bf16" in info["flags"]
    assert cpu_precision.vector_bits(info["flags"]) == 512
    assert cpu_precision.fma_per_cycle(info) == 1  # AVX-512 on two 256-bit pipes
    # 2 cores x 2.596 GHz x 16 fp32 lanes x 2 (FMA) x 1 per cycle
    assert cpu_precision.peak_gflops(2, 2.59614, 512, 1) == pytest.approx(166.15, abs=0.01)
    assert cpu_precision.peak_gflops(2, 2.59614, 512, 1, "bf16") == pytest.approx(332.31,
                                                                                   abs=0.01)
    # lscpu's max clock wins over the current one; an Intel core has two FMA units
    xeon = cpu_precision.cpu_info(ZEN4.replace("AuthenticAMD", "GenuineIntel"),
                                  lscpu="CPU max MHz:  3500.0000\n")
    assert xeon["ghz"] == 3.5 and cpu_precision.fma_per_cycle(xeon) == 2
    assert cpu_precision.vector_bits({"avx2", "fma"}) == 256
    assert cpu_precision.vector_bits(set()) == 128
    assert cpu_precision.options("bf16+cl") == {"precision": "bf16", "channels_last": True}
    with pytest.raises(SystemExit, match="compile"):
        cpu_precision.options("bf16+compile")
