"""Draw the tracked predictions of a few validation/test videos into the
work dir, so that training progress can be seen, not only read."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
from mmengine.hooks import Hook

from mmdet.registry import HOOKS

from ..structures import dense_masks
from .draw import draw_instances
from .video_io import Mp4Writer


@HOOKS.register_module()
class VideoVisualizationHook(Hook):
    """After each validation (and in a test run), draw the first
    ``num_videos`` videos' tracked instances.

    Writes ``WORK_DIR/vis/<val_epoch_E | val_iter_I | test>/<video>/NNNNN.png``
    and ``<video>.mp4`` beside them: masks, contours, class, score and track
    ID, one colour per track ID. Only rank 0 draws (its own videos).

    Args:
        num_videos (int): videos drawn per validation or test.
        score_thr (float): instances scoring below are not drawn.
        fps (float): frame rate of the MP4s.
        out_dir (str, optional): where to write instead of ``WORK_DIR/vis``.
        class_names (sequence[str], optional): names of the labels; by
            default the dataset's classes.
    """

    priority = 'LOW'

    def __init__(self, *, num_videos: int = 2, score_thr: float = 0.5,
                 fps: float = 6.0, out_dir: Optional[str] = None,
                 class_names: Optional[Sequence[str]] = None) -> None:
        self.num_videos = num_videos
        self.score_thr = score_thr
        self.fps = fps
        self.out_dir = out_dir
        self.class_names = class_names
        self._drawn = 0
        self._subdir = 'test'
        self._mp4 = None
        self._video_dir = None
        self._video_id = _NO_VIDEO

    def before_val_epoch(self, runner) -> None:
        self._start()
        # epoch-based training has finished epoch E when it validates
        self._subdir = (f'val_epoch_{runner.epoch}' if runner.epoch
                        else f'val_iter_{runner.iter}')

    def before_test_epoch(self, runner) -> None:
        self._start()
        self._subdir = 'test'

    def _start(self) -> None:
        self._close_video()
        self._drawn = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        self._draw(runner, outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self._draw(runner, outputs)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._close_video()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._close_video()

    def _draw(self, runner, outputs) -> None:
        """Draw the frames of ``outputs``: whole videos, or frames of a
        video streamed one sample at a time (the same video's MP4 stays
        open across samples)."""
        if runner.rank != 0 or not outputs:
            return
        names = self.class_names
        if names is None:
            loader = runner.test_dataloader if self._subdir == 'test' \
                else runner.val_dataloader
            names = loader.dataset.metainfo.get('classes')
        root = osp.join(self.out_dir or osp.join(runner.work_dir, 'vis'),
                        self._subdir)
        for track_sample in outputs:
            for frame in track_sample:
                if frame.video_id != self._video_id:
                    self._close_video()
                    if self._drawn >= self.num_videos:
                        return
                    self._open_video(frame, root)
                self._draw_frame(frame, names)

    def _open_video(self, frame, root: str) -> None:
        video = osp.basename(osp.dirname(frame.img_path)) or \
            str(frame.video_id)
        self._video_dir = osp.join(root, video)
        os.makedirs(self._video_dir, exist_ok=True)
        self._mp4 = Mp4Writer(self._video_dir + '.mp4', self.fps)
        self._video_id = frame.video_id
        self._drawn += 1

    def _close_video(self) -> None:
        if getattr(self, '_mp4', None) is not None:
            self._mp4.close()
        self._mp4 = None
        self._video_id = _NO_VIDEO

    def _draw_frame(self, frame, class_names) -> None:
        image = cv2.imread(frame.img_path)
        if image is None:
            raise FileNotFoundError(f'{frame.img_path}: cannot read '
                                    'the frame to draw it')
        pred = frame.pred_track_instances
        pred = pred[pred.scores >= self.score_thr]
        labels = [class_names[i] if class_names else str(i)
                  for i in pred.labels.tolist()]
        drawn = draw_instances(
            image, dense_masks(pred.masks),
            (pred.instances_id + 1).tolist(), labels,
            pred.scores.tolist())
        cv2.imwrite(osp.join(self._video_dir,
                             f'{int(frame.frame_id):05d}.png'), drawn)
        self._mp4.write(drawn)

    def draw_video(self, track_sample, root: str,
                   class_names: Optional[Sequence[str]]) -> str:
        """Draw every frame of one video's predictions; returns its
        folder."""
        self._close_video()
        self._open_video(track_sample[0], root)
        self._drawn -= 1  # drawn on request, not counted
        for frame in track_sample:
            self._draw_frame(frame, class_names)
        out = self._video_dir
        self._close_video()
        return out


#: ``_video_id`` while no video is open (video ids may be any json value)
_NO_VIDEO = object()
