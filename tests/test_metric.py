"""YouTubeVISVideoMetric: tracks -> video results -> AP or a submission."""
import json
import os.path as osp
import zipfile

import numpy as np
import pytest

from vis.evaluation import YouTubeVISVideoMetric
from vis.evaluation.ytvis_metric import tracks_to_video_results
from vis.structures import mask_rles as encode_masks


def frame(frame_id, ids, labels, scores, masks):
    return dict(frame_id=frame_id, ids=np.array(ids), labels=np.array(labels),
                scores=np.array(scores), rles=encode_masks(np.array(masks)))


def test_tracks_become_video_results():
    m = np.zeros((4, 4), bool)
    m[1:3, 1:3] = True
    frames = [frame(0, [7, 3], [1, 0], [0.9, 0.5], [m, m]),
              frame(2, [7], [2], [0.6], [m]),
              frame(3, [7], [1], [0.3], [m])]
    results = tracks_to_video_results(5, 4, frames)
    assert [r['video_id'] for r in results] == [5, 5]
    track3, track7 = results  # sorted by track id
    assert track3['label'] == 0 and track3['score'] == pytest.approx(0.5)
    assert [s is None for s in track3['segmentations']] == [False, True,
                                                            True, True]
    assert track7['label'] == 1  # labels 1, 2, 1: the most frequent
    assert track7['score'] == pytest.approx((0.9 + 0.6 + 0.3) / 3)
    assert [s is None for s in track7['segmentations']] == [False, True,
                                                            False, False]


def write_gt(tmp_path, with_annotations=True):
    m = np.zeros((4, 4), np.uint8)
    m[1:3, 1:3] = 1
    rle = encode_masks(m[None].astype(bool))[0]
    gt = dict(videos=[dict(id=1, width=4, height=4, length=2,
                           file_names=['a/0.jpg', 'a/1.jpg'])],
              categories=[dict(id=3, name='cat'), dict(id=9, name='dog')],
              annotations=[dict(id=1, video_id=1, category_id=9, iscrowd=0,
                                segmentations=[rle, rle], areas=[4, 4],
                                bboxes=[[1, 1, 2, 2]] * 2)]
              if with_annotations else [])
    path = tmp_path / 'valid.json'
    path.write_text(json.dumps(gt))
    return str(path), rle


def make_metric(ann_file, out_dir):
    metric = YouTubeVISVideoMetric(ann_file=ann_file, output_dir=out_dir)
    metric.dataset_meta = dict(classes=('cat', 'dog'))
    return metric


def test_empty_predictions_give_ap_zero_and_an_empty_submission(tmp_path):
    ann, _ = write_gt(tmp_path)
    metric = make_metric(ann, str(tmp_path))
    stats = metric.compute_metrics([dict(video_id=1, results=[])])
    assert stats['AP'] == 0 and stats['AR10'] == 0
    with open(tmp_path / 'results.json') as f:
        assert json.load(f) == []


def test_labels_map_to_category_ids_and_perfect_tracks_score_one(tmp_path):
    ann, rle = write_gt(tmp_path)
    metric = make_metric(ann, str(tmp_path))
    pred = dict(video_id=1, label=1, score=0.8, segmentations=[rle, rle])
    stats = metric.compute_metrics([dict(video_id=1, results=[pred])])
    assert stats['AP'] == pytest.approx(1.0)
    with open(tmp_path / 'results.json') as f:
        assert json.load(f)[0]['category_id'] == 9  # label 1 = 'dog' = id 9
    with zipfile.ZipFile(tmp_path / 'results.zip') as zf:
        assert json.loads(zf.read('results.json'))[0]['score'] == 0.8


def test_split_without_annotations_only_writes_the_submission(tmp_path):
    ann, rle = write_gt(tmp_path, with_annotations=False)
    metric = make_metric(ann, str(tmp_path))
    pred = dict(video_id=1, label=0, score=0.5, segmentations=[rle, None])
    assert metric.compute_metrics([dict(video_id=1, results=[pred])]) == {}
    assert osp.isfile(tmp_path / 'results.zip')


def test_unknown_class_name_is_a_clear_error(tmp_path):
    ann, _ = write_gt(tmp_path)
    metric = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=('cat', 'zebra'))
    with pytest.raises(ValueError, match='zebra'):
        metric.compute_metrics([])
