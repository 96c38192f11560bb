"""ScalingMixin: the scaling parameters of the three embedders.

Streamed images (``cache``, ``memory_budget``, ``num_workers``), Accelerate
(``accelerator``), channels-last and ``torch.compile``: a mixin put before
:class:`~skmm._base.BaseEmbedder`, whose hooks it extends.
"""

from __future__ import annotations

from skmm.training import SliceLoader, TensorDict, WorkerLoader


class ScalingMixin:
    """The scaling parameters of the three embedders (``cache``, ``memory_budget``,
    ``num_workers``, ``accelerator``, ``channels_last``, ``compile``)."""

    def _resolve_auto(self) -> dict:
        resolved = super()._resolve_auto()
        if self.accelerator is not None:  # device and mixed precision are the accelerator's
            # (an accelerate.Accelerator has both; the constraint asks only for its methods)
            precision = str(getattr(self.accelerator, "mixed_precision", "no"))
            resolved.update(device_=str(getattr(self.accelerator, "device", resolved["device_"])),
                            precision_="float32" if precision == "no" else precision)
        return resolved

    def _resolve_data_auto(self, data: dict) -> dict:
        """``cache_``: ``"none"`` when the images of the fit were streamed, else ``"memory"``."""
        return {**super()._resolve_data_auto(data),
                "cache_": "none" if TensorDict(data).lazy else "memory"}

    def _streams(self, n_bytes: int) -> bool:
        if self.cache == "none":
            return True
        return (self.cache == "auto" and self.memory_budget is not None
                and n_bytes > self.memory_budget)

    def _loader_kwargs(self, prefix: str, lazy: bool) -> dict:
        if not lazy:
            return {prefix: SliceLoader}
        return {prefix: WorkerLoader, f"{prefix}__num_workers": self.num_workers}

    def _net_options(self, lazy: bool) -> dict:
        options = super()._net_options(lazy)
        if self.accelerator is not None:  # device and mixed precision are the accelerator's
            options = {"accelerator": self.accelerator, "device": None}
        options.update(self._loader_kwargs("iterator_train", lazy))
        options.update(self._loader_kwargs("iterator_valid", lazy))
        options["channels_last"] = self.channels_last
        options["compile"] = self.compile is True or isinstance(self.compile, dict)
        if isinstance(self.compile, dict):
            options.update({f"compile__{k}": v for k, v in self.compile.items()})
        return options

    def _batches(self, data: dict, batch_size: int):
        """An inference loader over prepared ``data``: worker processes if it streams."""
        dataset = TensorDict(data)
        if dataset.lazy:
            return WorkerLoader(dataset, batch_size=batch_size, num_workers=self.num_workers)
        return SliceLoader(dataset, batch_size=batch_size)
