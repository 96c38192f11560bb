"""CheckpointMixin: resumable training (``checkpoint_dir``) of the three embedders.

A mixin put before :class:`~skmm._base.BaseEmbedder`: it adds an
:class:`~skmm.training.checkpoint.EpochCheckpoint` to the callbacks of the
fit and reads the seeds of a checkpoint it can resume.
"""

from __future__ import annotations

from numbers import Integral

from skmm.training.checkpoint import EpochCheckpoint, describe_params, read_checkpoint


class CheckpointMixin:
    """``checkpoint_dir``: resumable training of the three embedders.

    With ``checkpoint_dir`` set, the net that :meth:`fit` trains saves its
    whole training state after every epoch and a fit that finds a checkpoint
    of the same parameters and data resumes from it; a checkpoint of another
    fit is refused before training (see :mod:`skmm.training.checkpoint`).
    Only ``fit`` (and ``fit_transform``) checkpoint: the stages of
    ``CommonSpaceEmbedder.partial_fit`` do not.

    With ``random_state`` None (or a ``RandomState`` instance), a fit that
    finds a checkpoint of the same estimator takes its seeds from it, so that
    it can resume the fit that wrote it.
    """

    #: Parameters left out of a checkpoint's fingerprint: they change how,
    #: not what, is computed (a switch between streamed and decoded images is
    #: still refused, by the hash of the data). ``max_epochs`` is compared
    #: with the checkpoint's epoch instead: raising it resumes a complete fit.
    _checkpoint_ignores = ("checkpoint_dir", "verbose", "n_threads", "num_workers", "cache",
                           "memory_budget", "device", "max_epochs")

    def _seeds(self) -> dict:
        seeds = super()._seeds()
        if self.checkpoint_dir is None or isinstance(self.random_state, Integral):
            return seeds
        saved = read_checkpoint(self.checkpoint_dir)
        if saved is not None and saved["fingerprint"]["estimator"] == type(self).__name__ \
                and set(saved["fingerprint"]["seeds"]) == set(seeds):
            return {k: int(v) for k, v in saved["fingerprint"]["seeds"].items()}
        return seeds

    def _callbacks(self, state: dict) -> list:
        callbacks = super()._callbacks(state)
        if self.checkpoint_dir is None:
            return callbacks
        if self.accelerator is not None:
            raise ValueError("checkpoint_dir cannot be used with accelerator: each process "
                             "would need its own checkpoint; use Accelerate's "
                             "Accelerator.save_state / load_state instead")
        params = describe_params(self.get_params(deep=False), self._checkpoint_ignores)
        return [*callbacks, ("checkpoint", EpochCheckpoint(
            self.checkpoint_dir, estimator=type(self).__name__, params=params,
            seeds=state["seeds"], verbose=self.verbose))]
