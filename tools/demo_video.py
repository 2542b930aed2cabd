"""Segment and track every instance of a video, streaming frame by frame.

    python tools/demo_video.py INPUT CONFIG CHECKPOINT --out-dir DIR \
        [--frame-stride N] [--retain-seconds S | --retain-frames N] \
        [--classes NAME [NAME ...]] [--class-masks] [--min-track-score S]

INPUT is a video file (mp4 or anything OpenCV decodes), a folder of frames
(sorted by name) or a camera index (0, 1, ...). CONFIG is a video model's
config, or a plain mmdet instance-segmentation config (a file, or a scoped
name such as ``mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py`` with the
published COCO checkpoint) whose detector is then tracked without training;
its tracks are shown once confirmed (on their third frame by default).
Writes:

    DIR/overlay.mp4       the frames with masks, contours, class, score, ID
    DIR/masks/NNNNNN.png  one ID PNG per processed frame, named by its index
                          in the source: 0 = background, else the track ID
                          (16-bit grey while every ID is <= 65535; from the
                          first frame with a larger ID to the end of the
                          video 8-bit RGB, ID = R + 256 G + 65536 B; read
                          either with vis.visualization.export.read_id_png)
    DIR/binary_masks/NNNNNN_idK.png   with --binary-masks: one black and
                          white PNG per instance and frame
    DIR/class_masks/NNNNNN.png  with --class-masks: one 8-bit black (0) and
                          white (255) PNG per processed frame, the union of
                          the masks of every instance output (all black
                          when there is none), e.g. with --classes "cell
                          phone" where the phones are
    DIR/predictions.json  per frame: track ID, class, score, box and mask
                          (compressed RLE) of every instance; at the end
                          "tracks", one entry per track output: ID, class
                          (its most frequent), first and last frame, frame
                          count, mean score, the IDs merged into it (for
                          the tracks whose mean over the whole run reaches
                          --min-track-score; also when it is interrupted);
                          the header records classes_kept, min_track_score
                          and track_nms

``--classes NAME [NAME ...]`` outputs those classes only (names as the model
has them, case-insensitive, ``_`` = space; an unknown name is an error that
lists the model's classes). A track is output only once the mean score of
its frames so far reaches ``--min-track-score`` (default: the
``--score-thr``, 0.5 unless given; the decision is causal, so a track is
hidden while its mean is low and shown from the frame it reaches the bar);
flickering false detections then stay hidden. Duplicate tracks of one
object (masks overlapping in most of their shared frames) are merged into
the higher-scoring one, which keeps its ID, unless ``--no-track-nms``.

``--frame-stride N`` processes source frames 0, N, 2N, ... (the others are
not decoded); the outputs keep the source frame indices, the overlay plays
at the source rate / N, and the tracker is told the stride. How long an
unseen track is remembered: ``--retain-frames N`` processed frames, or
``--retain-seconds S`` of video, converted to ceil(S * fps / stride)
processed frames with the input's frame rate (``--input-fps`` for a folder
or a camera that reports none); without either, the config's window. The
window used is printed.

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
from vis.visualization.export import (IdPngWriter,  # noqa: E402
                                      PredictionsJsonWriter,
                                      frame_instances_json, instance_id_map,
                                      visible_masks)
from vis.visualization.video_io import (FrameSource,  # noqa: E402
                                        FrameSourceError, Mp4Writer)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be an integer >= 1, got '
                                         f'{text}')
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float('inf'):
        raise argparse.ArgumentTypeError(f'must be a number > 0, got {text}')
    return value


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
    parser.add_argument('--classes', nargs='+', metavar='NAME',
                        help='output these classes only, e.g. --classes '
                        '"cell phone" person (case-insensitive, _ = space)')
    parser.add_argument('--class-masks', action='store_true',
                        help='also write class_masks/NNNNNN.png per frame: '
                        'white (255) where any instance output is, else '
                        'black (0)')
    parser.add_argument('--min-track-score', type=float, metavar='S',
                        help='output a track only once the mean score of '
                        'its frames so far reaches S (default: the '
                        '--score-thr)')
    parser.add_argument('--no-track-nms', action='store_true',
                        help='do not merge duplicate tracks of one object')
    parser.add_argument('--no-overlay', action='store_true',
                        help='do not write overlay.mp4')
    parser.add_argument('--max-frames', type=int,
                        help='stop after reading this many source frames')
    parser.add_argument('--frame-stride', type=positive_int, default=1,
                        metavar='N', help='process every N-th source frame '
                        '(outputs keep the source frame indices)')
    retain = parser.add_mutually_exclusive_group()
    retain.add_argument('--retain-seconds', type=positive_float,
                        metavar='S', help='remember an unseen track for S '
                        'seconds of video (converted with the input\'s '
                        'frame rate and the stride)')
    retain.add_argument('--retain-frames', type=positive_int, metavar='N',
                        help='remember an unseen track for N processed '
                        'frames')
    parser.add_argument('--input-fps', type=positive_float,
                        help='frame rate of the input, for a folder of '
                        'frames or a camera that reports none (default: '
                        'the input\'s own)')
    parser.add_argument('--fps', type=positive_float,
                        help='overlay frame rate (default: the input\'s / '
                        'the frame stride, or 25 / stride)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full unpickling of a legacy checkpoint '
                        'you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args(argv)


class DemoOutputs:
    """The files one demo run writes, frame by frame."""

    def __init__(self, out_dir: str, header: dict, fps: float,
                 overlay: bool, binary_masks: bool,
                 class_masks: bool = False) -> None:
        self.out_dir = out_dir
        self.mask_dir = osp.join(out_dir, 'masks')
        os.makedirs(self.mask_dir, exist_ok=True)
        self.binary_dir = None
        if binary_masks:
            self.binary_dir = osp.join(out_dir, 'binary_masks')
            os.makedirs(self.binary_dir, exist_ok=True)
        self.class_dir = None
        if class_masks:
            self.class_dir = osp.join(out_dir, 'class_masks')
            os.makedirs(self.class_dir, exist_ok=True)
        self.overlay = Mp4Writer(osp.join(out_dir, 'overlay.mp4'), fps) \
            if overlay else None
        self.json = PredictionsJsonWriter(
            osp.join(out_dir, 'predictions.json'), header)
        self.id_pngs = IdPngWriter()

    def write(self, index: int, name: str, image, instances) -> None:
        """Write source frame ``index``'s outputs (files named by it)."""
        id_map = instance_id_map(instances.masks, instances.track_ids,
                                 instances.scores)  # (H, W)
        masks = visible_masks(id_map, instances.track_ids)  # (N, H, W)
        stem = f'{index:06d}'
        self.id_pngs.write(osp.join(self.mask_dir, stem + '.png'), id_map,
                           index)
        if self.binary_dir:
            for mask, tid in zip(masks, instances.track_ids):
                if mask.any():
                    path = osp.join(self.binary_dir, f'{stem}_id{tid}.png')
                    cv2.imwrite(path, mask.astype('uint8') * 255)
        if self.class_dir:  # from the id map: the ID PNG's pixels exactly
            path = osp.join(self.class_dir, stem + '.png')
            if not cv2.imwrite(path, (id_map > 0).astype('uint8') * 255):
                raise OSError(f'{path}: cannot write PNG')
        if self.overlay is not None:
            self.overlay.write(draw_instances(
                image, masks, instances.track_ids, instances.label_names(),
                instances.scores))
        self.json.write_frame(index, name, frame_instances_json(
            masks, instances.track_ids, instances.labels, instances.scores,
            instances.class_names))

    def close(self, error=None, tracks=None) -> None:
        """Finish the files; ``tracks`` (the predictor's track summary)
        goes to predictions.json."""
        if self.overlay is not None:
            self.overlay.close()
        extra = dict(id_png=self.id_pngs.describe())
        if tracks is not None:
            extra['tracks'] = tracks
        self.json.close(error, extra=extra)


def retention_options(args, source_fps) -> dict:
    """Config overrides for the tracker's retain window from
    ``--retain-seconds`` / ``--retain-frames`` (the other key is cleared,
    as a window is given by exactly one); {} without either."""
    if args.retain_frames is not None:
        return {'model.tracker.num_frames_retain': args.retain_frames,
                'model.tracker.retain_seconds': None}
    if args.retain_seconds is not None:
        if source_fps is None:
            raise SystemExit(
                f'error: --retain-seconds needs the frame rate of '
                f'{args.input}, which reports none: pass --input-fps, or '
                'use --retain-frames')
        return {'model.tracker.num_frames_retain': None,
                'model.tracker.retain_seconds': args.retain_seconds}
    return {}


def run_demo(args) -> dict:
    """Run the demo; returns the frame count, the two frame rates, the
    tracker's retain window (``num_frames_retain``, ``retention``) and the
    number of tracks output (``tracks``)."""
    if args.trust_checkpoint:
        set_checkpoint_trust(True)
    source = FrameSource(args.input, max_frames=args.max_frames,
                         frame_stride=args.frame_stride)
    source_fps = args.input_fps or (source.fps if source.fps_known else None)
    cfg_options = dict(args.cfg_options or {})
    cfg_options.update(retention_options(args, source_fps))
    from vis.apis import VideoPredictor  # after the input is known good
    min_track_score = (args.score_thr if args.min_track_score is None
                       else args.min_track_score)
    try:
        predictor = VideoPredictor(
            args.config, args.checkpoint, device=args.device,
            score_thr=args.score_thr, cfg_options=cfg_options or None,
            fps=source_fps, frame_stride=args.frame_stride,
            classes=args.classes, min_track_score=min_track_score,
            track_nms=not args.no_track_nms)
    except ValueError as err:
        if args.classes and 'unknown classes' in str(err):
            raise SystemExit(f'error: --classes: {err}')
        raise
    retention = predictor.retention()
    print(f'tracks unseen for more than {retention} are forgotten'
          + (f' (every {args.frame_stride}-th source frame is processed)'
             if args.frame_stride > 1 else ''))
    header = dict(source=str(args.input), config=args.config,
                  checkpoint=args.checkpoint,
                  classes=list(predictor.class_names),
                  score_thr=args.score_thr,
                  classes_kept=list(predictor.output_filter.kept_classes),
                  min_track_score=min_track_score,
                  track_nms=not args.no_track_nms, fps=source_fps,
                  frame_stride=args.frame_stride,
                  num_frames_retain=predictor.num_frames_retain)
    overlay_fps = args.fps or (source_fps or source.fps) / args.frame_stride
    outputs = DemoOutputs(args.out_dir, header, overlay_fps,
                          overlay=not args.no_overlay,
                          binary_masks=args.binary_masks,
                          class_masks=args.class_masks)
    model_seconds = 0.0
    frames = 0
    start = time.perf_counter()
    error = None
    current = None  # source index of the frame being processed
    try:
        for index, name, image in tqdm(source, total=source.num_frames,
                                       desc='frames', unit='frame'):
            current = index
            instances = predictor.predict_frame(image)
            model_seconds += predictor.last_model_seconds
            outputs.write(index, name, image, instances)
            frames += 1
            current = None
    except KeyboardInterrupt:
        error = f'interrupted after {frames} frames'
    except Exception as err:
        where = (f'frame {current}' if current is not None else
                 f'reading the frame after {frames} processed frames')
        error = f'{where}: {err}'
        raise
    finally:  # the tracks summary, also of an interrupted run
        tracks = predictor.track_summary()
        outputs.close(error, tracks=tracks)
    total = time.perf_counter() - start
    stats = dict(frames=frames,
                 model_fps=frames / model_seconds if model_seconds else 0.0,
                 end_to_end_fps=frames / total if total else 0.0,
                 num_frames_retain=predictor.num_frames_retain,
                 retention=retention, frame_stride=args.frame_stride,
                 tracks=len(tracks))
    print(f'{frames} frames: {stats["model_fps"]:.2f} frames/s model only '
          f'(network + tracking), {stats["end_to_end_fps"]:.2f} frames/s end '
          'to end (decode, model, drawing, encoding, writing)')
    written = (['overlay.mp4'] * (not args.no_overlay)
               + ['masks/', f'predictions.json ({len(tracks)} tracks)']
               + ['binary_masks/'] * args.binary_masks
               + ['class_masks/'] * args.class_masks)
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
