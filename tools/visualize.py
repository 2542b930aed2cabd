"""Draw YouTube-VIS-format instances on video frames, frame by frame.

    python tools/visualize.py JSON FRAMES_DIR --out-dir DIR [--gt GT_JSON]

JSON is either a YouTube-VIS annotation file (ground truth) or a
``results.json`` written by tools/test.py (then --gt names the split's json,
which gives the frame file names and category names). With --gt and a
results file, each PNG shows ground truth | prediction side by side. One
colour per track id over the whole video.
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import defaultdict

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pycocotools.mask as mask_utils  # noqa: E402
from tqdm import tqdm  # noqa: E402

from vis.datasets.youtube_vis import segmentation_to_rle  # noqa: E402
from vis.visualization import draw_instances  # noqa: E402


def load_json(path: str):
    if not osp.isfile(path):
        raise SystemExit(f'{path}: no such file')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise SystemExit(f'{path}: not valid json ({err})')


def instances_by_video(anns, score_thr: float):
    """video_id -> list of (track id, category id, score or None, segs)."""
    out = defaultdict(list)
    for i, a in enumerate(anns):
        score = a.get('score')
        if score is not None and score < score_thr:
            continue
        track_id = a.get('id', i + 1)
        out[a['video_id']].append(
            (track_id, a['category_id'], score, a['segmentations']))
    return out


def frame_layer(image, instances, frame, video, cat_names):
    """Draw the instances present in ``frame`` of a video."""
    h, w = video['height'], video['width']
    masks, ids, labels, scores = [], [], [], []
    for tid, cat, score, segs in instances:
        seg = segs[frame]
        if seg is None:
            continue
        rle = segmentation_to_rle(seg, h, w,
                                  f'video {video["id"]} frame {frame}')
        masks.append(mask_utils.decode(rle).astype(bool))
        ids.append(tid)
        labels.append(cat_names.get(cat, str(cat)))
        scores.append(score)
    masks = np.stack(masks) if masks else np.zeros((0, h, w), bool)
    with_scores = bool(scores) and scores[0] is not None
    return draw_instances(image, masks, ids, labels,
                          scores if with_scores else None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('json', help='annotation json or results.json')
    parser.add_argument('frames_dir', help='the split\'s JPEGImages folder')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--gt', help='the split\'s annotation json; needed '
                        'for a results.json; adds a ground-truth panel')
    parser.add_argument('--videos', type=int, nargs='+',
                        help='video ids to draw (default: all)')
    parser.add_argument('--max-videos', type=int, default=None)
    parser.add_argument('--frames', type=int, nargs=2, metavar=('FIRST', 'LAST'),
                        help='frame index range, inclusive')
    parser.add_argument('--score-thr', type=float, default=0.3)
    args = parser.parse_args(argv)

    data = load_json(args.json)
    if isinstance(data, list):  # results.json
        if not args.gt:
            raise SystemExit(f'{args.json} is a results list: pass --gt with '
                             'the split\'s annotation json')
        meta = load_json(args.gt)
        pred = instances_by_video(data, args.score_thr)
        gt = instances_by_video(meta.get('annotations') or [], 0.0)
    else:
        meta, pred, gt = data, None, instances_by_video(
            data.get('annotations') or [], 0.0)
    cat_names = {c['id']: c['name'] for c in meta['categories']}
    videos = meta['videos']
    if args.videos:
        known = {v['id'] for v in videos}
        unknown = sorted(set(args.videos) - known)
        if unknown:
            raise SystemExit(f'video ids {unknown} are not in {args.gt or args.json}')
        videos = [v for v in videos if v['id'] in set(args.videos)]
    if args.max_videos:
        videos = videos[:args.max_videos]

    written = 0
    for video in tqdm(videos, desc='videos', unit='video'):
        out_dir = osp.join(args.out_dir, str(video['id']))
        os.makedirs(out_dir, exist_ok=True)
        first, last = args.frames or (0, len(video['file_names']) - 1)
        for t in range(first, min(last, len(video['file_names']) - 1) + 1):
            path = osp.join(args.frames_dir, video['file_names'][t])
            image = cv2.imread(path)
            if image is None:
                raise SystemExit(f'video {video["id"]} frame {t}: cannot '
                                 f'read {path}')
            panels = []
            if gt is not None and (pred is None or gt.get(video['id'])):
                panels.append(frame_layer(image, gt.get(video['id'], []), t,
                                          video, cat_names))
            if pred is not None:
                panels.append(frame_layer(image, pred.get(video['id'], []), t,
                                          video, cat_names))
            cv2.imwrite(osp.join(out_dir, f'{t:05d}.png'),
                        np.concatenate(panels, axis=1))
            written += 1
    print(f'wrote {written} frames to {args.out_dir}')


if __name__ == '__main__':
    main()
