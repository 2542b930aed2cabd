"""Segment and track every instance of a video, streaming frame by frame.

    python tools/demo_video.py INPUT CONFIG CHECKPOINT --out-dir DIR

INPUT is a video file (mp4 or anything OpenCV decodes), a folder of frames
(sorted by name) or a camera index (0, 1, ...). Writes:

    DIR/overlay.mp4       the frames with masks, contours, class, score, ID
    DIR/masks/NNNNNN.png  one 16-bit PNG per frame, in frame order:
                          0 = background, value = track ID
    DIR/binary_masks/NNNNNN_idK.png   with --binary-masks: one black and
                          white PNG per instance and frame
    DIR/predictions.json  per frame: track ID, class, score, box and mask
                          (compressed RLE) of every instance

Where masks overlap, the pixel goes to the highest-scoring instance, in the
PNGs and the json alike. Prints frames per second, model only and end to
end. Nothing is held per frame, so any length of video works; a camera runs
until --max-frames or Ctrl+C, and the files stay valid either way.
"""
import argparse
import os
import os.path as osp
import sys
import time
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

import cv2  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from tqdm import tqdm  # noqa: E402

from vis.compat import set_checkpoint_trust  # noqa: E402
from vis.visualization import draw_instances  # noqa: E402
from vis.visualization.export import (PredictionsJsonWriter,  # noqa: E402
                                      frame_instances_json, instance_id_map,
                                      visible_masks, write_id_png)
from vis.visualization.video_io import (FrameSource,  # noqa: E402
                                        FrameSourceError, Mp4Writer)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('input', help='video file, folder of frames, or '
                        'camera index')
    parser.add_argument('config', help='the model\'s config file')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    parser.add_argument('--score-thr', type=float, default=0.5,
                        help='instances scoring below are not output')
    parser.add_argument('--binary-masks', action='store_true',
                        help='also write one black/white PNG per instance')
    parser.add_argument('--no-overlay', action='store_true',
                        help='do not write overlay.mp4')
    parser.add_argument('--max-frames', type=int,
                        help='stop after this many frames')
    parser.add_argument('--fps', type=float,
                        help='overlay frame rate (default: the input\'s, or '
                        '25)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full unpickling of a legacy checkpoint '
                        'you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args(argv)


class DemoOutputs:
    """The files one demo run writes, frame by frame."""

    def __init__(self, out_dir: str, header: dict, fps: float,
                 overlay: bool, binary_masks: bool) -> None:
        self.out_dir = out_dir
        self.mask_dir = osp.join(out_dir, 'masks')
        os.makedirs(self.mask_dir, exist_ok=True)
        self.binary_dir = None
        if binary_masks:
            self.binary_dir = osp.join(out_dir, 'binary_masks')
            os.makedirs(self.binary_dir, exist_ok=True)
        self.overlay = Mp4Writer(osp.join(out_dir, 'overlay.mp4'), fps) \
            if overlay else None
        self.json = PredictionsJsonWriter(
            osp.join(out_dir, 'predictions.json'), header)

    def write(self, index: int, name: str, image, instances) -> None:
        id_map = instance_id_map(instances.masks, instances.track_ids,
                                 instances.scores)
        masks = visible_masks(id_map, instances.track_ids)  # (N, H, W)
        stem = f'{index:06d}'
        write_id_png(osp.join(self.mask_dir, stem + '.png'), id_map)
        if self.binary_dir:
            for mask, tid in zip(masks, instances.track_ids):
                if mask.any():
                    path = osp.join(self.binary_dir, f'{stem}_id{tid}.png')
                    cv2.imwrite(path, mask.astype('uint8') * 255)
        if self.overlay is not None:
            self.overlay.write(draw_instances(
                image, masks, instances.track_ids, instances.label_names(),
                instances.scores))
        self.json.write_frame(index, name, frame_instances_json(
            masks, instances.track_ids, instances.labels, instances.scores,
            instances.class_names))

    def close(self, error=None) -> None:
        if self.overlay is not None:
            self.overlay.close()
        self.json.close(error)


def run_demo(args) -> dict:
    """Run the demo; returns the frame count and the two frame rates."""
    if args.trust_checkpoint:
        set_checkpoint_trust(True)
    source = FrameSource(args.input, max_frames=args.max_frames)
    from vis.apis import VideoPredictor  # after the input is known good
    predictor = VideoPredictor(args.config, args.checkpoint,
                               device=args.device, score_thr=args.score_thr,
                               cfg_options=args.cfg_options)
    header = dict(source=str(args.input), config=args.config,
                  checkpoint=args.checkpoint,
                  classes=list(predictor.class_names),
                  score_thr=args.score_thr, fps=source.fps)
    outputs = DemoOutputs(args.out_dir, header, args.fps or source.fps,
                          overlay=not args.no_overlay,
                          binary_masks=args.binary_masks)
    model_seconds = 0.0
    frames = 0
    start = time.perf_counter()
    error = None
    try:
        for index, name, image in tqdm(source, total=source.num_frames,
                                       desc='frames', unit='frame'):
            instances = predictor.predict_frame(image)
            model_seconds += predictor.last_model_seconds
            outputs.write(index, name, image, instances)
            frames += 1
    except KeyboardInterrupt:
        error = f'interrupted after {frames} frames'
    except Exception as err:
        error = f'frame {frames}: {err}'
        raise
    finally:
        outputs.close(error)
    total = time.perf_counter() - start
    stats = dict(frames=frames,
                 model_fps=frames / model_seconds if model_seconds else 0.0,
                 end_to_end_fps=frames / total if total else 0.0)
    print(f'{frames} frames: {stats["model_fps"]:.2f} frames/s model only '
          f'(network + tracking), {stats["end_to_end_fps"]:.2f} frames/s end '
          'to end (decode, model, drawing, encoding, writing)')
    written = (['overlay.mp4'] * (not args.no_overlay)
               + ['masks/', 'predictions.json']
               + ['binary_masks/'] * args.binary_masks)
    print(f'wrote {", ".join(written)} in {args.out_dir}')
    return stats


def main(argv=None):
    args = parse_args(argv)
    try:
        return run_demo(args)
    except FrameSourceError as err:
        raise SystemExit(f'error: {err}')


if __name__ == '__main__':
    main()
