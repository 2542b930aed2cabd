"""Checkpoints that a crash can never leave half-written.

mmengine 0.10.7's ``CheckpointHook`` deletes the oldest kept checkpoint,
then writes the new one in place (``open(path, 'wb')``) and then rewrites
``last_checkpoint`` in place. A process killed during the write leaves a
truncated ``epoch_N.pth``; with ``max_keep_ckpts=1`` the previous checkpoint
is already gone and ``last_checkpoint`` names a file that no longer exists,
so ``--resume`` has nothing to resume from.

:class:`AtomicCheckpointHook` writes the checkpoint to a hidden partial file
in the same directory, flushes it to disk and renames it over the final name
(``os.replace``: atomic on POSIX and Windows); ``last_checkpoint`` is
replaced the same way, and only then are outdated checkpoints deleted. At any
moment ``last_checkpoint`` names a complete checkpoint.
"""
import glob
import os
import os.path as osp
import shutil
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

PARTIAL_SUFFIX = '.partial'


def partial_path(path: str) -> str:
    """The hidden file ``path`` is written to before it is renamed."""
    head, tail = osp.split(path)
    return osp.join(head, f'.{tail}{PARTIAL_SUFFIX}')


def fsync_path(path: str) -> None:
    """Flush a file (or a directory entry) to disk, where the OS allows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # directories cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish(partial: str, path: str) -> None:
    """Flush ``partial`` and rename it to ``path`` in one atomic step."""
    fsync_path(partial)
    os.replace(partial, path)
    fsync_path(osp.dirname(osp.abspath(path)))


def write_text_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text``: readers see the old or the new text,
    never a mix or an empty file."""
    tmp = partial_path(path)
    with open(tmp, 'w') as f:
        f.write(text)
    publish(tmp, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that publishes each checkpoint atomically.

    Same arguments and file names as mmengine's ``CheckpointHook``. On a
    local file system the periodic checkpoint goes to
    ``.<name>.partial`` first and is renamed to ``<name>`` once complete;
    ``last_checkpoint`` is then replaced atomically, and checkpoints beyond
    ``max_keep_ckpts`` are deleted last, so the checkpoint that
    ``last_checkpoint`` names always exists and is whole. Partial files left
    by a killed run are deleted when training starts. Other storage
    backends (``backend_args``) keep mmengine's behaviour.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._local() and is_main_process():
            pattern = osp.join(glob.escape(self.out_dir),
                               '.*' + PARTIAL_SUFFIX)
            for stale in glob.glob(pattern):
                os.remove(stale)
                runner.logger.info(f'removed {stale}, a checkpoint left '
                                   'half-written by an interrupted run')

    def _local(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = self._track_kept_checkpoints(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        partial = partial_path(filename)
        partial_file = osp.join(self.out_dir, partial)
        try:
            # Runner.save_checkpoint runs (and writes) on the main process
            runner.save_checkpoint(
                self.out_dir,
                partial,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
        except BaseException:
            if is_main_process() and osp.exists(partial_file):
                os.remove(partial_file)
            raise
        if not is_main_process():
            return
        publish(partial_file, self.last_ckpt)
        write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'),
                          self.last_ckpt)
        for old in outdated:
            self._remove(
                osp.join(self.out_dir, self.filename_tmpl.format(old)))

    def _track_kept_checkpoints(self, runner, step) -> List[int]:
        """Record ``step`` among the kept checkpoints (saved in the message
        hub, hence in the checkpoint) and return the steps that fall out;
        their files are deleted only after the new checkpoint is in place."""
        if self.max_keep_ckpts <= 0:
            return []
        if self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step:
            return []  # this step is recorded already (saved twice)
        outdated = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return outdated

    @staticmethod
    def _remove(path: str) -> None:
        if osp.isfile(path):
            os.remove(path)
        elif osp.isdir(path):  # deepspeed checkpoints are directories
            shutil.rmtree(path)
