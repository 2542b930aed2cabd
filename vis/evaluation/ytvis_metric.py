"""YouTube-VIS metric: per-video track results -> AP, or a server submission."""
import json
import os
import os.path as osp
import zipfile
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import (broadcast_object_list, gather_object,
                           is_main_process)
from mmengine.logging import print_log

from mmdet.evaluation.metrics import BaseVideoMetric
from mmdet.registry import METRICS

from ..structures import mask_rles
from .ytvis_eval import STAT_NAMES, evaluate_ytvis, format_stats_table


def frame_rles(pred) -> List[dict]:
    """Compressed RLEs (str counts) of one frame's predicted instances
    (``pred.masks``: ``RLEMasks`` or an (N, H, W) tensor)."""
    return mask_rles(pred.masks)


def tracks_to_video_results(video_id: int, num_frames: int,
                            frames: Sequence[dict]) -> List[dict]:
    """Turn per-frame tracked instances into YouTube-VIS video results.

    Args:
        video_id (int): the video's id in the json.
        num_frames (int): the video's length.
        frames: per frame ``{'frame_id', 'ids' (N,), 'labels' (N,),
            'scores' (N,), 'rles' (N RLE dicts)}``.

    Returns:
        list[dict]: one ``{'video_id', 'label', 'score', 'segmentations'}``
        per track id: the label is the track's most frequent label, the score
        its mean score, and frames without the track hold ``None``.
    """
    tracks: Dict[int, dict] = defaultdict(
        lambda: dict(labels=[], scores=[], segs=[None] * num_frames))
    for frame in frames:
        for tid, label, score, rle in zip(frame['ids'], frame['labels'],
                                          frame['scores'], frame['rles']):
            track = tracks[int(tid)]
            track['labels'].append(int(label))
            track['scores'].append(float(score))
            track['segs'][frame['frame_id']] = rle
    results = []
    for tid in sorted(tracks):
        track = tracks[tid]
        results.append(dict(
            video_id=video_id,
            label=int(np.bincount(track['labels']).argmax()),
            score=float(np.mean(track['scores'])),
            segmentations=track['segs']))
    return results


@METRICS.register_module()
class YouTubeVISVideoMetric(BaseVideoMetric):
    """YouTube-VIS video AP, or ``results.json`` + ``results.zip``.

    The test loader must yield whole videos (``DefaultSampler`` over a
    ``YouTubeVISJsonDataset`` in test mode), so that each rank tracks whole
    videos and the results gathered from all ranks are whole videos too.

    Args:
        ann_file (str): the split's YouTube-VIS json (for its categories, and
            its annotations if it has any).
        output_dir (str, optional): where ``results.json`` and
            ``results.zip`` (the file the evaluation server takes) go.
        format_only (bool): only write the results, even with annotations.
        score_thr (float): drop per-frame instances below this score.
    """
    default_prefix = 'youtube_vis'

    def __init__(self, ann_file: str, output_dir: Optional[str] = None,
                 format_only: bool = False, score_thr: float = 0.0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file
        self.output_dir = output_dir
        self.format_only = format_only
        self.score_thr = score_thr

    def process_video(self, data_samples) -> None:
        first = data_samples[0]
        frames = []
        for sample in data_samples:
            pred = sample.pred_track_instances
            pred = pred[pred.scores >= self.score_thr]
            frames.append(dict(
                frame_id=int(sample.frame_id),
                ids=pred.instances_id.cpu().numpy(),
                labels=pred.labels.cpu().numpy(),
                scores=pred.scores.cpu().numpy(),
                rles=frame_rles(pred)))
        num_frames = int(first.ori_video_length)
        self.results.append(dict(
            video_id=int(first.video_id),
            results=tracks_to_video_results(int(first.video_id), num_frames,
                                            frames)))

    def process_image(self, data_samples, ori_video_len: int) -> None:
        raise ValueError(
            'YouTubeVISVideoMetric needs whole videos per test sample, got '
            f'{len(data_samples)} of {ori_video_len} frames: use a '
            'DefaultSampler (not TrackImgSampler) in the test dataloader')

    def evaluate(self, size: int = 1) -> dict:
        """Gather the videos of all processes on the main one, compute the
        metrics there and share them.

        mmdet's ``BaseVideoMetric`` passes results through files under
        ``./.dist_test``, which needs a file system shared by all nodes;
        here they travel through the process group. A video that a sampler
        padded onto two processes (``round_up=True``) counts once.
        """
        parts = gather_object(self.results)  # on the main process
        metrics = [None]
        if is_main_process():
            seen, videos = set(), []
            for part in parts:
                for video in part:
                    if video['video_id'] not in seen:
                        seen.add(video['video_id'])
                        videos.append(video)
            metrics = [self.compute_metrics(videos)]
            if self.prefix:
                metrics = [{f'{self.prefix}/{k}': v
                            for k, v in metrics[0].items()}]
        broadcast_object_list(metrics)
        self.results.clear()
        return metrics[0]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        with open(self.ann_file) as f:
            gt = json.load(f)
        name_to_id = {c['name']: c['id'] for c in gt['categories']}
        classes = self.dataset_meta['classes']
        missing = [c for c in classes if c not in name_to_id]
        if missing:
            raise ValueError(f'{self.ann_file}: model classes {missing} are '
                             'not among its categories')
        label_to_cat = [name_to_id[c] for c in classes]
        predictions = []
        for video in sorted(results, key=lambda r: r['video_id']):
            for r in video['results']:
                predictions.append(dict(
                    video_id=r['video_id'], score=r['score'],
                    category_id=label_to_cat[r['label']],
                    segmentations=r['segmentations']))
        if self.output_dir or self.format_only or not gt.get('annotations'):
            self._write_submission(predictions)
        if self.format_only or not gt.get('annotations'):
            print_log(f'{self.ann_file} has no annotations (or format_only): '
                      'results written, no AP computed', 'current')
            return {}
        # evaluate only the categories the model predicts
        cat_ids = set(label_to_cat)
        gt = dict(gt, categories=[c for c in gt['categories']
                                  if c['id'] in cat_ids],
                  annotations=[a for a in gt['annotations']
                               if a['category_id'] in cat_ids])
        stats = evaluate_ytvis(gt, predictions)
        print_log('\n' + format_stats_table(stats), 'current')
        return {name: stats[name] for name in STAT_NAMES}

    def _write_submission(self, predictions: List[dict]) -> None:
        out_dir = self.output_dir or '.'
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

