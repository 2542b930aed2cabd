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


# --------------------------------------------------------------------------
# Classes by name, any video id, streaming, results before metrics
# --------------------------------------------------------------------------

def write_gt_two_classes(tmp_path, video_id=1, dog_first=False):
    """Two videos' worth of one track each: a 'cat' in video_id and a 'dog'
    in a second video; ``dog_first`` gives 'dog' the lower category id."""
    m = np.zeros((4, 4), bool)
    m[1:3, 1:3] = True
    rle = encode_masks(m[None])[0]
    cats = [dict(id=3, name='dog'), dict(id=9, name='Cat')] if dog_first \
        else [dict(id=3, name='cat'), dict(id=9, name='dog')]
    ids = {c['name'].lower(): c['id'] for c in cats}
    other = f'{video_id}b' if isinstance(video_id, str) else video_id + 1
    gt = dict(
        videos=[dict(id=video_id, width=4, height=4, length=2,
                     file_names=['a/0.jpg', 'a/1.jpg']),
                dict(id=other, width=4, height=4, length=2,
                     file_names=['b/0.jpg', 'b/1.jpg'])],
        categories=cats,
        annotations=[
            dict(id=1, video_id=video_id, category_id=ids['cat'], iscrowd=0,
                 segmentations=[rle, rle], areas=[4, 4],
                 bboxes=[[1, 1, 2, 2]] * 2),
            dict(id=2, video_id=other, category_id=ids['dog'], iscrowd=0,
                 segmentations=[rle, None], areas=[4, None],
                 bboxes=[[1, 1, 2, 2], None])])
    path = tmp_path / 'valid.json'
    path.write_text(json.dumps(gt))
    return str(path), rle, other


def test_category_order_does_not_permute_the_classes(tmp_path):
    """The model's label 0 is 'cat'; a json listing 'dog' first (lower id)
    still scores the cat prediction against the cats."""
    for dog_first in (False, True):
        out = tmp_path / str(dog_first)
        out.mkdir()
        ann, rle, other = write_gt_two_classes(out, dog_first=dog_first)
        metric = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(out),
                                       classes=('cat', 'dog'))
        preds = [dict(video_id=1, results=[dict(
                     video_id=1, label=0, score=0.9,
                     segmentations=[rle, rle])]),
                 dict(video_id=other, results=[dict(
                     video_id=other, label=1, score=0.8,
                     segmentations=[rle, None])])]
        stats = metric.compute_metrics(preds)
        assert stats['AP'] == pytest.approx(1.0), dog_first
        with open(out / 'results.json') as f:
            written = json.load(f)
        cat_id = 9 if dog_first else 3
        assert written[0]['category_id'] == cat_id


def test_model_classes_absent_from_the_data_are_dropped(tmp_path):
    ann, rle, other = write_gt_two_classes(tmp_path)
    metric = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path),
                                   classes=('zebra', 'cat', 'dog'))
    preds = [dict(video_id=1, results=[
        dict(video_id=1, label=0, score=0.95, segmentations=[rle, rle]),
        dict(video_id=1, label=1, score=0.9, segmentations=[rle, rle])])]
    metric.compute_metrics(preds)
    with open(tmp_path / 'results.json') as f:
        written = json.load(f)
    assert [r['category_id'] for r in written] == [3]  # the cat only


@pytest.mark.parametrize('video_id', ['a1b2c3', 17])
def test_video_ids_of_any_json_type_round_trip(tmp_path, video_id):
    ann, rle, other = write_gt_two_classes(tmp_path, video_id=video_id)
    metric = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path),
                                   classes=('cat', 'dog'))
    samples = [video_samples(video_id, 2, [[(4, 0, 0.9, True)]] * 2),
               video_samples(other, 2, [[(5, 1, 0.8, True)], []])]
    for sample in samples:
        metric.process({}, [dict(video_data_samples=sample)])
    stats = metric.evaluate()
    assert stats['youtube_vis/AP'] == pytest.approx(1.0)
    with open(tmp_path / 'results.json') as f:
        written = json.load(f)
    assert [r['video_id'] for r in written] == [video_id, other]
    assert type(written[0]['video_id']) is type(video_id)


def video_samples(video_id, length, frames, first_frame=0):
    """DetDataSamples of frames ``first_frame..`` of a video; ``frames``
    holds per frame a list of ``(track id, label, score, mask on)``."""
    import torch
    from mmengine.structures import InstanceData
    from mmdet.structures import DetDataSample
    m = np.zeros((4, 4), bool)
    m[1:3, 1:3] = True
    samples = []
    for offset, instances in enumerate(frames):
        sample = DetDataSample(metainfo=dict(
            video_id=video_id, frame_id=first_frame + offset,
            ori_video_length=length))
        pred = InstanceData()
        pred.instances_id = torch.tensor([i[0] for i in instances],
                                         dtype=torch.long)
        pred.labels = torch.tensor([i[1] for i in instances],
                                   dtype=torch.long)
        pred.scores = torch.tensor([i[2] for i in instances])
        pred.masks = torch.from_numpy(
            np.stack([m if i[3] else ~m for i in instances])
            if instances else np.zeros((0, 4, 4), bool))
        sample.pred_track_instances = pred
        samples.append(sample)
    return samples


def test_streamed_frames_give_the_results_of_whole_videos(tmp_path):
    ann, rle, other = write_gt_two_classes(tmp_path)
    frames = [[(0, 0, 0.9, True), (1, 1, 0.4, False)], [(0, 0, 0.7, True)]]
    whole = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path),
                                  classes=('cat', 'dog'))
    whole.process({}, [dict(video_data_samples=video_samples(1, 2, frames))])
    streamed = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path),
                                     classes=('cat', 'dog'))
    for t, frame in enumerate(frames):
        # one frame per sample, as TrackImgSampler gives them
        streamed.process({}, [dict(video_data_samples=video_samples(
            1, 2, [frame], first_frame=t))])
        assert len(streamed.results) == t  # closed with its last frame
    assert streamed.results == whole.results
    assert [r['score'] for r in streamed.results[0]['results']] == \
        pytest.approx([0.8, 0.4])


def test_a_video_cut_short_is_an_error_naming_it(tmp_path):
    ann, _, _ = write_gt_two_classes(tmp_path)
    metric = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path),
                                   classes=('cat', 'dog'))
    metric.process({}, [dict(video_data_samples=video_samples(
        1, 2, [[(0, 0, 0.9, True)]]))])
    with pytest.raises(ValueError, match=r'\{1: 1\}'):
        metric.evaluate()


def test_results_are_written_before_a_metric_fails(tmp_path, monkeypatch):
    from vis.evaluation import ytvis_metric
    ann, rle, _ = write_gt_two_classes(tmp_path)
    metric = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path),
                                   classes=('cat', 'dog'))

    def broken(*args, **kwargs):
        raise RuntimeError('metric crashed')

    monkeypatch.setattr(ytvis_metric, 'evaluate_report', broken)
    pred = dict(video_id=1, label=0, score=0.9, segmentations=[rle, rle])
    with pytest.raises(RuntimeError, match='metric crashed'):
        metric.compute_metrics([dict(video_id=1, results=[pred])])
    with open(tmp_path / 'results.json') as f:
        assert json.load(f)[0]['score'] == 0.9


def test_no_output_dir_for_a_split_without_annotations(tmp_path,
                                                       monkeypatch):
    ann, _ = write_gt(tmp_path, with_annotations=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match='output_dir'):
        YouTubeVISVideoMetric(ann_file=ann)


# --------------------------------------------------------------------------
# Per-category values: logged always, returned nested with per_class=True
# --------------------------------------------------------------------------

def two_class_predictions(rle, other):
    return [dict(video_id=1, results=[dict(
                video_id=1, label=0, score=0.9, segmentations=[rle, rle])]),
            dict(video_id=other, results=[dict(
                video_id=other, label=1, score=0.8,
                segmentations=[rle, None])])]


def test_per_class_values_are_logged_and_returned_on_request(tmp_path,
                                                             monkeypatch):
    from vis.evaluation import ytvis_metric
    logged = []
    monkeypatch.setattr(ytvis_metric, 'print_log',
                        lambda msg, *args, **kwargs: logged.append(msg))
    ann, rle, other = write_gt_two_classes(tmp_path)
    flat = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path),
                                 classes=('cat', 'dog'),
                                 metric=('ap', 'frame'))
    stats = flat.compute_metrics(two_class_predictions(rle, other))
    assert 'per_class' not in stats
    assert all(isinstance(v, float) for v in stats.values())
    assert stats['AP'] == pytest.approx(1.0)
    assert stats['frame_mask_AP'] == pytest.approx(1.0)
    text = '\n'.join(map(str, logged))
    assert 'Per-frame detection AP (values x100)' in text
    assert 'Per category (values x100)' in text
    assert 'frame_mask_AP' in text and 'AR100' in text

    nested = YouTubeVISVideoMetric(ann_file=ann, output_dir=str(tmp_path),
                                   classes=('cat', 'dog'),
                                   metric=('ap', 'frame'), per_class=True)
    stats = nested.compute_metrics(two_class_predictions(rle, other))
    assert list(stats)[-1] == 'per_class'  # save_best='auto' reads the 1st
    assert stats['per_class'] == {
        name: pytest.approx(dict(AP=1, AP50=1, AP75=1, AR100=1,
                                 frame_mask_AP=1, frame_box_AP=1))
        for name in ('cat', 'dog')}
    json.dumps(stats)  # plain json types


class _FixedVideos:
    """A dataset of sample indices (the toy model below looks them up)."""

    def __init__(self, num):
        self.num = num
        self.metainfo = dict(classes=('cat', 'dog'))

    def __len__(self):
        return self.num

    def __getitem__(self, index):
        return dict(inputs=index)


def _toy_model(samples):
    """A one-parameter model: a loss for training, and the fixed tracked
    ``samples[index]`` as its predictions."""
    import torch
    from mmengine.model import BaseModel

    class ToyVideoModel(BaseModel):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, inputs, data_samples=None, mode='tensor'):
            if mode == 'loss':
                return dict(loss=(self.weight - 1).pow(2).sum())
            return [dict(video_data_samples=samples[int(i)])
                    for i in inputs]

    return ToyVideoModel()


@pytest.mark.parametrize('save_best', ['youtube_vis/AP', 'auto'])
def test_nested_per_class_survives_mmengine_hooks(tmp_path, save_best):
    """mmengine 0.10.7's LoggerHook, RuntimeInfoHook and CheckpointHook
    (save_best) take the nested ``per_class`` value: a toy one-parameter
    loop (one iteration, validated after its epoch), then val and test."""
    from mmengine.runner import Runner
    ann, rle, other = write_gt_two_classes(tmp_path)
    samples = [video_samples(1, 2, [[(4, 0, 0.9, True)]] * 2),
               video_samples(other, 2, [[(5, 1, 0.8, True)], []])]

    def metric():
        return YouTubeVISVideoMetric(
            ann_file=ann, output_dir=str(tmp_path / 'out'),
            classes=('cat', 'dog'), metric=('ap', 'frame'), per_class=True)

    def loader(num):
        return dict(dataset=_FixedVideos(num), batch_size=1,
                    sampler=dict(type='DefaultSampler', shuffle=False))

    work = tmp_path / 'work'
    runner = Runner(
        model=_toy_model(samples), work_dir=str(work),
        experiment_name=f'nested_per_class_{save_best.replace("/", "_")}',
        train_dataloader=loader(1),
        train_cfg=dict(by_epoch=True, max_epochs=1, val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        val_dataloader=loader(2), val_cfg=dict(), val_evaluator=[metric()],
        test_dataloader=loader(2), test_cfg=dict(),
        test_evaluator=[metric()],
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=1,
                            save_best=save_best, rule='greater')),
        default_scope='mmdet')
    runner.train()
    assert list(work.glob('best_youtube_vis_AP_epoch_1.pth'))
    info = runner.message_hub.get_info('val/youtube_vis/per_class')
    assert info['dog']['frame_box_AP'] == pytest.approx(1.0)
    for metrics in (runner.val(), runner.test()):
        assert metrics['youtube_vis/AP'] == pytest.approx(1.0)
        assert metrics['youtube_vis/per_class']['cat'] == pytest.approx(
            dict(AP=1, AP50=1, AP75=1, AR100=1, frame_mask_AP=1,
                 frame_box_AP=1))
