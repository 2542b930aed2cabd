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

    def before_val_epoch(self, runner) -> None:
        self._drawn = 0
        # epoch-based training has finished epoch E when it validates
        self._subdir = (f'val_epoch_{runner.epoch}' if runner.epoch
                        else f'val_iter_{runner.iter}')

    def before_test_epoch(self, runner) -> None:
        self._drawn = 0
        self._subdir = 'test'

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        self._draw(runner, outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self._draw(runner, outputs)

    def _draw(self, runner, outputs) -> None:
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
            if self._drawn >= self.num_videos:
                return
            self._drawn += 1
            self.draw_video(track_sample, root, names)

    def draw_video(self, track_sample, root: str,
                   class_names: Optional[Sequence[str]]) -> str:
        """Draw every frame of one video's predictions; returns its
        folder."""
        first = track_sample[0]
        video = osp.basename(osp.dirname(first.img_path)) or \
            str(first.video_id)
        out = osp.join(root, video)
        os.makedirs(out, exist_ok=True)
        with Mp4Writer(out + '.mp4', self.fps) as mp4:
            for frame in track_sample:
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
                cv2.imwrite(osp.join(out, f'{int(frame.frame_id):05d}.png'),
                            drawn)
                mp4.write(drawn)
        return out
