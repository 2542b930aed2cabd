"""YouTube-VIS metric: per-video track results -> metrics, or a server
submission."""
import json
import os
import os.path as osp
import zipfile
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dist import (broadcast_object_list, gather_object,
                           is_main_process)
from mmengine.logging import print_log

from mmdet.evaluation.metrics import BaseVideoMetric
from mmdet.registry import METRICS

from ..datasets.classes import ClassMatch, match_classes
from ..datasets.layout import json_has_annotations
from ..structures import mask_rles
from .metrics import (check_metric_names, evaluate_report,
                      format_metrics_table, format_per_class_table)

#: The key of the nested per-category values (see ``per_class``).
PER_CLASS_KEY = 'per_class'


def frame_rles(pred) -> List[dict]:
    """Compressed RLEs (str counts) of one frame's predicted instances
    (``pred.masks``: ``RLEMasks`` or an (N, H, W) tensor)."""
    return mask_rles(pred.masks)


def tracks_to_video_results(video_id, num_frames: int,
                            frames: Sequence[dict]) -> List[dict]:
    """Turn per-frame tracked instances into YouTube-VIS video results.

    Args:
        video_id: the video's id in the json (int or str, kept as is).
        num_frames (int): the video's length.
        frames: per frame ``{'frame_id', 'ids' (N,), 'labels' (N,),
            'scores' (N,), 'rles' (N RLE dicts)}`` and, from a tracker that
            confirms tracks after a few frames, ``'confirmed'`` (N,) bool.

    Returns:
        list[dict]: one ``{'video_id', 'label', 'score', 'segmentations'}``
        per track id: the label is the track's most frequent label, the score
        its mean score, and frames without the track hold ``None``. With
        ``'confirmed'`` flags, a track never confirmed is left out and a
        confirmed one keeps its frames from before its confirmation
        (back-filled: offline, the whole track is known).
    """
    tracks: Dict[int, dict] = defaultdict(
        lambda: dict(labels=[], scores=[], segs=[None] * num_frames,
                     confirmed=False))
    for frame in frames:
        confirmed = frame.get('confirmed')
        if confirmed is None:
            confirmed = np.ones(len(frame['ids']), dtype=bool)
        for tid, label, score, rle, sure in zip(
                frame['ids'], frame['labels'], frame['scores'],
                frame['rles'], confirmed):
            track = tracks[int(tid)]
            track['labels'].append(int(label))
            track['scores'].append(float(score))
            track['segs'][frame['frame_id']] = rle
            track['confirmed'] |= bool(sure)
    results = []
    for tid in sorted(tracks):
        track = tracks[tid]
        if not track['confirmed']:
            continue
        results.append(dict(
            video_id=video_id,
            label=int(np.bincount(track['labels']).argmax()),
            score=float(np.mean(track['scores'])),
            segmentations=track['segs']))
    return results


@METRICS.register_module()
class YouTubeVISVideoMetric(BaseVideoMetric):
    """YouTube-VIS video AP, or ``results.json`` + ``results.zip``.

    Takes either whole videos per test sample (``DefaultSampler``) or, to
    stream long videos, one frame per sample in frame order
    (``TrackImgSampler``, which keeps each video on one process): a frame's
    masks are kept as compressed RLE only and the video's tracks are built
    when its last frame arrives, so memory does not grow with the frames'
    pixels.

    Predicted labels are matched to the json's categories **by name**
    (:func:`vis.datasets.classes.match_classes`): ``classes`` are the
    model's class names (default: the dataset's, i.e. the model was trained
    on these categories in this order), ``class_map`` renames data
    categories. Predictions of model classes the data lacks are dropped (and
    listed in the log); a data category the model lacks is an error.

    ``results.json`` (and the zip) are written before any metric is
    computed, so a failing metric never loses a run. The log shows the
    metrics table and the per-category table.

    Args:
        ann_file (str): the split's YouTube-VIS json (for its categories, and
            its annotations if it has any).
        output_dir (str, optional): where ``results.json`` and
            ``results.zip`` (the file the evaluation server takes) go; the
            tools set it to their work dir. Without it nothing is written,
            and a split without annotations (or ``format_only``) is an
            error, raised when the metric is built.
        format_only (bool): only write the results, even with annotations.
        score_thr (float): drop per-frame instances below this score.
        classes (sequence[str], optional): the model's class names in label
            order.
        class_map (str | dict, optional): a class map json path or dict
            ``{"data name": "model name" or None}``.
        metric (sequence[str]): what to compute (see
            :data:`vis.evaluation.METRICS`: ``ap``, ``hota``, ``frame``,
            ``boundary``), default ``('ap',)``.
        track_score_thr (float): score threshold of the tracking metrics.
        per_class (bool): also return the per-category values, nested under
            a ``per_class`` key: ``{category name: {metric name: value}}``
            (the other keys stay floats). Off by default, for validation
            during training: mmengine 0.10.7's hooks accept a nested value
            (no crash, ``save_best`` reads its own key), but LoggerHook
            prints it whole on the log line of every validation and
            RuntimeInfoHook keeps it in the message hub that every
            checkpoint saves. tools/test.py turns it on (and writes it to
            metrics.json).
    """
    default_prefix = 'youtube_vis'

    def __init__(self, ann_file: str, output_dir: Optional[str] = None,
                 format_only: bool = False, score_thr: float = 0.0,
                 classes: Optional[Sequence[str]] = None,
                 class_map: Union[None, str, dict] = None,
                 metric: Sequence[str] = ('ap', ),
                 track_score_thr: float = 0.5,
                 per_class: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file
        self.output_dir = output_dir
        self.format_only = format_only
        self.score_thr = score_thr
        self.classes = tuple(classes) if classes else None
        self.class_map = class_map
        # named ``metric`` like mmdet's CocoMetric: a ``metrics`` key would
        # make mmengine build the config as an Evaluator
        self.metrics = check_metric_names(metric)
        self.track_score_thr = track_score_thr
        self.per_class = bool(per_class)
        if output_dir is None and (format_only or (
                osp.isfile(ann_file) and not json_has_annotations(ann_file))):
            raise ValueError(
                f'{ann_file}: without annotations (or with format_only) the '
                'metric only writes results.json, and needs output_dir to '
                'know where (the tools set it to their work dir)')
        # streamed videos: video id -> frames received so far
        self._open_videos: Dict[object, List[dict]] = {}

    def _frame_record(self, sample) -> dict:
        """The compact record kept of one frame: ids, labels, scores and
        compressed RLEs of its instances scoring at least ``score_thr``."""
        pred = sample.pred_track_instances
        pred = pred[pred.scores >= self.score_thr]
        record = dict(frame_id=int(sample.frame_id),
                      ids=pred.instances_id.cpu().numpy(),
                      labels=pred.labels.cpu().numpy(),
                      scores=pred.scores.cpu().numpy(),
                      rles=frame_rles(pred))
        if 'confirmed' in pred:  # trackers that confirm tracks late
            record['confirmed'] = pred.confirmed.cpu().numpy()
        return record

    def _close_video(self, video_id, num_frames: int,
                     frames: Sequence[dict]) -> None:
        self.results.append(dict(
            video_id=video_id,
            results=tracks_to_video_results(video_id, num_frames, frames)))

    def process_video(self, data_samples) -> None:
        """One whole video's frames, tracked."""
        first = data_samples[0]
        frames = [self._frame_record(sample) for sample in data_samples]
        self._close_video(first.video_id, int(first.ori_video_length),
                          frames)

    def process_image(self, data_samples, ori_video_len: int) -> None:
        """Frames of a video streamed one sample at a time (in order); the
        video is closed when all ``ori_video_len`` frames have come."""
        for sample in data_samples:
            frames = self._open_videos.setdefault(sample.video_id, [])
            frames.append(self._frame_record(sample))
            if len(frames) == ori_video_len:
                del self._open_videos[sample.video_id]
                self._close_video(sample.video_id, ori_video_len, frames)

    def evaluate(self, size: int = 1) -> dict:
        """Gather the videos of all processes on the main one, compute the
        metrics there and share them.

        mmdet's ``BaseVideoMetric`` passes results through files under
        ``./.dist_test``, which needs a file system shared by all nodes;
        here they travel through the process group. A video that a sampler
        padded onto two processes (``round_up=True``) counts once.
        """
        if self._open_videos:
            partial = {vid: len(frames)
                       for vid, frames in self._open_videos.items()}
            self._open_videos.clear()
            raise ValueError(
                f'{self.ann_file}: videos ended before their last frame '
                f'(video id: frames received) {partial}; the test loader '
                'must give every frame of a video, in order, to one process')
        parts = gather_object(self.results)  # on the main process
        metrics = [None]
        if is_main_process():
            seen, videos = set(), []
            for part in parts:
                for video in part:
                    key = _video_key(video['video_id'])
                    if key not in seen:
                        seen.add(key)
                        videos.append(video)
            metrics = [self.compute_metrics(videos)]
            if self.prefix:
                metrics = [{f'{self.prefix}/{k}': v
                            for k, v in metrics[0].items()}]
        broadcast_object_list(metrics)
        self.results.clear()
        return metrics[0]

    def class_match(self, gt: dict) -> ClassMatch:
        """Match the json's categories to the model's classes by name."""
        categories = sorted(gt['categories'], key=lambda c: c['id'])
        classes = self.classes or self.dataset_meta['classes']
        return match_classes([c['name'] for c in categories], classes,
                             self.class_map, data_source=self.ann_file,
                             model_source='the model')

    def compute_metrics(self, results: List[dict]) -> Dict[str, Any]:
        """Write the submission, then compute the metrics of ``results``
        (per video ``{'video_id', 'results': tracks}``).

        Returns:
            ``{name: float}`` (see :func:`vis.evaluation.evaluate_results`),
            plus ``'per_class': {category: {metric: float}}`` with
            ``per_class=True``; ``{}`` without annotations (or with
            ``format_only``).
        """
        with open(self.ann_file) as f:
            gt = json.load(f)
        categories = sorted(gt['categories'], key=lambda c: c['id'])
        match = self.class_match(gt)
        if not match.is_identity:
            print_log(match.summary(), 'current')
        label_to_cat = {label: categories[index]['id']
                        for label, index in match.model_to_data.items()}
        predictions, dropped = [], 0
        for video in results:
            for r in video['results']:
                if r['label'] not in label_to_cat:
                    dropped += 1
                    continue
                predictions.append(dict(
                    video_id=r['video_id'], score=r['score'],
                    category_id=label_to_cat[r['label']],
                    segmentations=r['segmentations']))
        if dropped:
            print_log(f'{dropped} predicted tracks of model classes absent '
                      f'from {self.ann_file} dropped', 'current')
        if self.output_dir:
            self._write_submission(predictions)
        if self.format_only or not gt.get('annotations'):
            print_log(f'{self.ann_file} has no annotations (or format_only): '
                      'results written, no metric computed', 'current')
            return {}
        # evaluate only the categories matched to a model class
        cat_ids = set(label_to_cat.values())
        gt = dict(gt, categories=[c for c in gt['categories']
                                  if c['id'] in cat_ids],
                  annotations=[a for a in gt['annotations']
                               if a['category_id'] in cat_ids])
        report = evaluate_report(gt, predictions, metrics=self.metrics,
                                 track_score_thr=self.track_score_thr)
        print_log('\n' + format_metrics_table(report.values) + '\n\n' +
                  format_per_class_table(report.per_class), 'current')
        out: Dict[str, Any] = dict(report.values)
        if self.per_class:  # last: save_best='auto' takes the first key
            out[PER_CLASS_KEY] = {name: dict(stats) for name, stats
                                  in report.per_class.items()}
        return out

    def _write_submission(self, predictions: List[dict]) -> None:
        out_dir = self.output_dir
        os.makedirs(out_dir, exist_ok=True)
        json_path = osp.join(out_dir, 'results.json')
        tmp = json_path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(predictions, f)
        os.replace(tmp, json_path)
        zip_path = osp.join(out_dir, 'results.zip')
        with zipfile.ZipFile(zip_path + '.tmp', 'w',
                             zipfile.ZIP_DEFLATED) as zf:
            zf.write(json_path, arcname='results.json')
        os.replace(zip_path + '.tmp', zip_path)
        print_log(f'wrote {len(predictions)} video instances to {json_path} '
                  f'and {zip_path} (the evaluation server format)', 'current')


def _video_key(video_id):
    """A video id as a set key that keeps 1 and '1' apart."""
    return (type(video_id).__name__, video_id)
