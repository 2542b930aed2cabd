"""Draw YouTube-VIS-format instances on video frames, frame by frame.

    python tools/visualize.py JSON FRAMES_DIR --out-dir DIR [--gt GT_JSON]
        [--side-by-side] [--videos ID|NAME ...] [--frames FIRST LAST]
        [--score-thr 0.3] [--formats png mp4 gif] [--fps 6]

JSON is either a YouTube-VIS annotation file (ground truth) or a
``results.json`` written by tools/test.py; a results file needs --gt, the
split's json, for the frame file names and category names. With
--side-by-side each frame shows ground truth | prediction. Filled
translucent masks, contours, class, score and track ID; one colour per track
ID over the whole video. For each video writes DIR/<video>/NNNNN.png (frame
index), DIR/<video>.mp4 and DIR/<video>.gif.
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
from vis.visualization import draw_instances, title_panels  # noqa: E402
from vis.visualization.video_io import Mp4Writer, write_gif  # noqa: E402

FORMATS = ('png', 'mp4', 'gif')


def load_json(path: str):
    if not osp.isfile(path):
        raise SystemExit(f'{path}: no such file')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise SystemExit(f'{path}: not valid json ({err})')


def instances_by_video(anns, score_thr: float, where: str):
    """video_id -> list of (track id, category id, score or None, segs)."""
    out = defaultdict(list)
    for i, a in enumerate(anns):
        missing = [k for k in ('video_id', 'category_id', 'segmentations')
                   if k not in a]
        if missing:
            raise SystemExit(f'{where}: entry {i} has no {", ".join(missing)}')
        score = a.get('score')
        if score is not None and score < score_thr:
            continue
        track_id = a.get('id', i + 1)
        out[a['video_id']].append(
            (track_id, a['category_id'], score, a['segmentations']))
    return out


def video_name(video: dict) -> str:
    """The video's folder name (its frames' directory), else its id."""
    first = video['file_names'][0] if video.get('file_names') else ''
    return osp.dirname(first) or str(video['id'])


def frame_layer(image, instances, frame, video, cat_names):
    """Draw the instances present in ``frame`` of a video."""
    h, w = video['height'], video['width']
    masks, ids, labels, scores = [], [], [], []
    for tid, cat, score, segs in instances:
        if frame >= len(segs):
            raise SystemExit(f'video {video["id"]}: track {tid} has '
                             f'{len(segs)} segmentations, the video has '
                             f'{len(video["file_names"])} frames')
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


def select_videos(videos, wanted, max_videos, where):
    """Videos named by id or folder name, in the order given."""
    if wanted:
        by_key = {}
        for v in videos:
            by_key[str(v['id'])] = v
            by_key[video_name(v)] = v
        unknown = [w for w in wanted if w not in by_key]
        if unknown:
            raise SystemExit(f'videos {unknown} are not in {where}')
        videos = [by_key[w] for w in wanted]
    return videos[:max_videos] if max_videos else videos


def render_video(video, args, layers, cat_names):
    """Yield the drawn frames of one video in order."""
    num_frames = len(video['file_names'])
    first, last = args.frames or (0, num_frames - 1)
    for t in range(max(first, 0), min(last, num_frames - 1) + 1):
        path = osp.join(args.frames_dir, video['file_names'][t])
        image = cv2.imread(path)
        if image is None:
            raise SystemExit(f'video {video["id"]} frame {t}: cannot read '
                             f'{path}')
        panels = [frame_layer(image, layer.get(video['id'], []), t, video,
                              cat_names) for _, layer in layers]
        if len(panels) > 1:
            panels = title_panels(panels, [title for title, _ in layers])
        yield t, np.concatenate(panels, axis=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('json', help='annotation json or results.json')
    parser.add_argument('frames_dir', help='the split\'s JPEGImages folder')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--gt', help='the split\'s annotation json; needed '
                        'for a results.json')
    parser.add_argument('--side-by-side', action='store_true',
                        help='ground truth | prediction (needs a results '
                        'json and --gt with annotations)')
    parser.add_argument('--videos', nargs='+',
                        help='video ids or folder names (default: all)')
    parser.add_argument('--max-videos', type=int, default=None)
    parser.add_argument('--frames', type=int, nargs=2,
                        metavar=('FIRST', 'LAST'),
                        help='frame index range, inclusive')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='predicted tracks scoring below are not drawn')
    parser.add_argument('--formats', nargs='+', choices=FORMATS,
                        default=list(FORMATS))
    parser.add_argument('--fps', type=float, default=6.0,
                        help='MP4/GIF frame rate (YouTube-VIS frames are '
                        '6 per second)')
    args = parser.parse_args(argv)

    data = load_json(args.json)
    if isinstance(data, list):  # results.json
        if not args.gt:
            raise SystemExit(f'{args.json} is a results list: pass --gt with '
                             'the split\'s annotation json')
        meta = load_json(args.gt)
        layers = [('prediction',
                   instances_by_video(data, args.score_thr, args.json))]
        if args.side_by_side:
            if not meta.get('annotations'):
                raise SystemExit(f'--side-by-side: {args.gt} has no '
                                 'annotations')
            layers.insert(0, ('ground truth', instances_by_video(
                meta['annotations'], 0.0, args.gt)))
    else:
        if args.side_by_side:
            raise SystemExit('--side-by-side needs a results.json as JSON '
                             'and the annotations as --gt')
        meta = data
        layers = [('ground truth', instances_by_video(
            data.get('annotations') or [], 0.0, args.json))]
    for key in ('videos', 'categories'):
        if key not in meta:
            raise SystemExit(f'{args.gt or args.json}: no {key!r}')
    cat_names = {c['id']: c['name'] for c in meta['categories']}
    videos = select_videos(meta['videos'], args.videos, args.max_videos,
                           args.gt or args.json)

    total = sum(len(v['file_names']) for v in videos)
    if args.frames:
        total = sum(max(0, min(args.frames[1], len(v['file_names']) - 1)
                        - max(args.frames[0], 0) + 1) for v in videos)
    os.makedirs(args.out_dir, exist_ok=True)
    written = 0
    with tqdm(total=total, desc='frames', unit='frame') as progress:
        for video in videos:
            name = video_name(video)
            written += write_video(render_video(video, args, layers,
                                                cat_names),
                                   osp.join(args.out_dir, name), args,
                                   progress)
    print(f'wrote {written} frames of {len(videos)} videos '
          f'({", ".join(args.formats)}) to {args.out_dir}')


def write_video(frames, stem, args, progress) -> int:
    """Write the drawn ``frames`` (index, image) as PNGs, MP4 and GIF in one
    pass; returns the number of frames."""
    if 'png' in args.formats:
        os.makedirs(stem, exist_ok=True)
    mp4 = Mp4Writer(stem + '.mp4', args.fps) if 'mp4' in args.formats \
        else None
    count = 0

    def each_frame():
        nonlocal count
        for t, image in frames:
            if 'png' in args.formats:
                cv2.imwrite(osp.join(stem, f'{t:05d}.png'), image)
            if mp4 is not None:
                mp4.write(image)
            count += 1
            progress.update(1)
            yield image

    try:
        if 'gif' in args.formats:
            write_gif(stem + '.gif', each_frame(), args.fps)
        else:
            for _ in each_frame():
                pass
    finally:
        if mp4 is not None:
            mp4.close()
    return count


if __name__ == '__main__':
    main()
