"""An epoch-based training loop that resumes in the middle of an epoch."""
from torch.utils.data import DataLoader

from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop

from .random_state import get_random_state, set_random_state


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes where the checkpoint was written.

    mmengine's loop restarts an interrupted epoch from its first batch. With
    checkpoints written every N iterations (``CheckpointHook(by_epoch=
    False)``) a resumed run then trains the batches before the checkpoint a
    second time and ends with more iterations than ``max_epochs`` epochs.
    This loop skips them: the sampler gives the same order for the same seed
    and epoch, and the resumed epoch starts at the first batch not yet
    trained, without loading the skipped ones. Resuming at an epoch boundary
    is unchanged.

    If the resumed run was seeded differently (no fixed ``randomness.seed``),
    mmengine takes the checkpoint's seed; the sampler, built before the
    checkpoint was read, is given that seed too so that the order matches.
    """

    def __init__(self, runner, *args, **kwargs) -> None:
        super().__init__(runner, *args, **kwargs)
        self._built_seed = runner.seed

    def run(self):
        sampler = getattr(self.dataloader, 'sampler', None)
        if (self.runner.seed != self._built_seed
                and getattr(sampler, 'seed', None) == self._built_seed):
            sampler.seed = self.runner.seed  # the resumed run's seed
        return super().run()

    def run_epoch(self) -> None:
        done = self._iter - self._epoch * len(self.dataloader)
        if done <= 0:
            return super().run_epoch()
        if done > len(self.dataloader):
            self.runner.logger.warning(
                f'the checkpoint is {done} iterations into epoch '
                f'{self._epoch + 1}, which has {len(self.dataloader)} batches '
                'here: resumed with another number of processes or batch '
                'size? Going on with the next epoch.')
            done = len(self.dataloader)
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        self.runner.logger.info(
            f'resuming epoch {self._epoch + 1} at batch {done + 1} of '
            f'{len(self.dataloader)} ({done} already trained)')
        for idx, data_batch in enumerate(self._remaining_batches(done),
                                         start=done):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _remaining_batches(self, done: int):
        """An iterator over this epoch's batches after the first ``done``."""
        loader = self.dataloader
        kwargs = dict(num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn,
                      pin_memory=loader.pin_memory, timeout=loader.timeout,
                      worker_init_fn=loader.worker_init_fn,
                      multiprocessing_context=loader.multiprocessing_context,
                      generator=loader.generator)
        if loader.num_workers > 0:
            kwargs['prefetch_factor'] = loader.prefetch_factor
        if loader.batch_sampler is not None:
            kwargs['batch_sampler'] = list(loader.batch_sampler)[done:]
        else:  # batch_size=None: the sampler yields whole batches
            kwargs['sampler'] = list(loader.sampler)[done:]
            kwargs['batch_size'] = None
        rest = DataLoader(loader.dataset, **kwargs)
        # starting an iterator draws a seed from torch's generator; the
        # uninterrupted run drew it at the start of the epoch, not here
        state = get_random_state()
        iterator = iter(rest)
        set_random_state(state)
        return iterator
