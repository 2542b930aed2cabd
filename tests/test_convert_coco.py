"""tools/dataset_converters/coco2ytvis.py and vis/datasets/converters/coco.py:
still images become one-frame videos with COCO's ids, names and
segmentations kept exactly."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from vis.datasets.converters import ConversionError
from vis.datasets.converters.coco import read_coco

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'coco2ytvis.py')


def _load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('coco2ytvis', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compressed(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _uncompressed(mask):
    """COCO's iscrowd RLE: counts a list, column-major runs from 0s."""
    flat = mask.T.reshape(-1)  # (W * H,) column-major
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel == value:
            run += 1
        else:
            counts.append(run)
            value, run = pixel, 1
    counts.append(run)
    return dict(size=list(mask.shape), counts=[int(c) for c in counts])


@pytest.fixture
def coco_set(tmp_path):
    """3 images (one in a sub-folder, one without annotations), categories
    with non-contiguous ids, a polygon, a compressed RLE, a crowd
    uncompressed RLE and a polygon with a degenerate part."""
    image_dir = tmp_path / 'images'
    (image_dir / 'sub').mkdir(parents=True)
    sizes = {1: (16, 20), 2: (12, 14), 3: (10, 10)}
    files = {1: 'a.jpg', 2: 'sub/b.png', 3: 'empty.jpg'}
    for image_id, (h, w) in sizes.items():
        img = np.random.default_rng(image_id).integers(0, 255, (h, w, 3),
                                                       dtype=np.uint8)
        cv2.imwrite(str(image_dir / files[image_id]), img)
    mask_b = np.zeros((12, 14), np.uint8)
    mask_b[2:6, 3:9] = 1
    crowd = np.zeros((16, 20), np.uint8)
    crowd[10:14, 0:20] = 1
    coco = dict(
        images=[dict(id=i, file_name=files[i], height=sizes[i][0],
                     width=sizes[i][1]) for i in sizes],
        categories=[dict(id=3, name='dog', supercategory='animal'),
                    dict(id=7, name='person', supercategory='person')],
        annotations=[
            dict(id=11, image_id=1, category_id=7, iscrowd=0,
                 segmentation=[[2, 2, 10, 2, 10, 8, 2, 8]]),
            dict(id=12, image_id=1, category_id=7, iscrowd=1,
                 segmentation=_uncompressed(crowd)),
            dict(id=13, image_id=2, category_id=3, iscrowd=0,
                 segmentation=_compressed(mask_b)),
            dict(id=14, image_id=2, category_id=3, iscrowd=0,
                 segmentation=[[1, 1, 5, 1, 5, 5], [0, 0, 1, 1]]),
            dict(id=15, image_id=2, category_id=3, iscrowd=0,
                 segmentation=[]),
        ])
    ann_file = tmp_path / 'instances.json'
    ann_file.write_text(json.dumps(coco))
    return dict(ann_file=str(ann_file), image_dir=str(image_dir), coco=coco,
                tmp=tmp_path)


def _by_name(ann):
    videos = {v['file_names'][0].split('/')[0]: v for v in ann['videos']}
    return videos, {v['id']: [a for a in ann['annotations']
                              if a['video_id'] == v['id']]
                    for v in ann['videos']}


def test_one_frame_videos_keep_ids_names_and_segmentations(coco_set,
                                                          capsys):
    out = coco_set['tmp'] / 'out'
    assert _load_tool().main([coco_set['ann_file'], coco_set['image_dir'],
                              str(out), '--no-progress']) == 0
    ann = json.loads((out / 'train.json').read_text())
    assert ann['categories'] == [
        dict(id=3, name='dog', supercategory='animal'),
        dict(id=7, name='person', supercategory='person')]
    videos, anns = _by_name(ann)
    assert sorted(videos) == ['a', 'b', 'empty']
    assert videos['a']['file_names'] == ['a/a.jpg']
    assert videos['b']['file_names'] == ['b/b.png']
    assert (videos['b']['height'], videos['b']['width']) == (12, 14)
    a_anns = anns[videos['a']['id']]
    assert [x['category_id'] for x in a_anns] == [7, 7]
    assert a_anns[0]['segmentations'] == [[[2, 2, 10, 2, 10, 8, 2, 8]]]
    assert a_anns[0]['iscrowd'] == 0
    crowd = coco_set['coco']['annotations'][1]['segmentation']
    assert a_anns[1]['segmentations'] == [crowd] and a_anns[1]['iscrowd'] == 1
    assert a_anns[1]['areas'] == [80.0]
    assert a_anns[1]['bboxes'] == [[0.0, 10.0, 20.0, 4.0]]
    b_anns = anns[videos['b']['id']]
    assert b_anns[0]['segmentations'] == [
        coco_set['coco']['annotations'][2]['segmentation']]
    assert b_anns[0]['areas'] == [24.0]
    # the degenerate part is dropped, the triangle kept as written
    assert b_anns[1]['segmentations'] == [[[1, 1, 5, 1, 5, 5]]]
    assert len(b_anns) == 2  # the empty segmentation is skipped
    assert anns[videos['empty']['id']] == []
    # bytes copied exactly
    assert (out / 'train/JPEGImages/b/b.png').read_bytes() == \
        (coco_set['tmp'] / 'images/sub/b.png').read_bytes()
    assert (out / 'categories.txt').read_text() == 'dog\nperson\n'
    printed = capsys.readouterr().out
    assert '1  annotation without a usable segmentation' in printed
    assert 'dropped 1 polygon part(s) with fewer than 3 points' in printed
    assert 'annotation id 14' in printed
    assert 'no valid split' in printed


def test_output_passes_check_dataset(coco_set):
    out = coco_set['tmp'] / 'out'
    assert _load_tool().main([coco_set['ann_file'], coco_set['image_dir'],
                              str(out), '--no-progress']) == 0
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'check_dataset.py'),
         str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_skip_empty_and_valid_fraction(coco_set, capsys):
    out = coco_set['tmp'] / 'out'
    assert _load_tool().main([coco_set['ann_file'], coco_set['image_dir'],
                              str(out), '--skip-empty', '--no-progress',
                              '--valid-fraction', '0.5', '--seed', '2']) == 0
    train = json.loads((out / 'train.json').read_text())
    valid = json.loads((out / 'valid.json').read_text())
    assert len(train['videos']) == 1 and len(valid['videos']) == 1
    assert 'image without annotations (--skip-empty)' in \
        capsys.readouterr().out


@pytest.mark.parametrize('change, message', [
    (lambda c: c['annotations'][0].update(category_id=99),
     r'annotation id 11: category_id 99 is not among the categories'),
    (lambda c: c['annotations'][0].update(image_id=42),
     r'annotation id 11: image_id 42 is not an image'),
    (lambda c: c['images'][0].update(file_name='missing.jpg'),
     r'image id 1: file not found: .*missing.jpg'),
    (lambda c: c['images'][0].update(height=17),
     r'image id 1 \(a.jpg\) is 20x17 in the json but 20x16 in the file'),
    (lambda c: c['annotations'][2]['segmentation'].update(size=[5, 5]),
     r'annotation id 13: RLE size \[5, 5\] differs'),
    (lambda c: c['categories'].append(dict(id=9, name='dog')),
     r"categories 3 and 9 are both named 'dog'"),
])
def test_bad_input_errors_name_the_field_and_write_nothing(
        coco_set, change, message, capsys):
    coco = json.loads(json.dumps(coco_set['coco']))
    change(coco)
    with open(coco_set['ann_file'], 'w') as f:
        json.dump(coco, f)
    with pytest.raises(ConversionError, match=message):
        read_coco(coco_set['ann_file'], coco_set['image_dir'])
    out = coco_set['tmp'] / 'out'
    assert _load_tool().main([coco_set['ann_file'], coco_set['image_dir'],
                              str(out), '--no-progress']) == 2
    assert 'error:' in capsys.readouterr().err
    assert not out.exists()
    assert [p for p in os.listdir(coco_set['tmp']) if p.startswith('.')] == []


def test_invalid_json_and_non_empty_out_root(coco_set, capsys):
    bad = coco_set['tmp'] / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(ConversionError, match=r'bad.json: invalid JSON'):
        read_coco(str(bad), coco_set['image_dir'])
    out = coco_set['tmp'] / 'out'
    out.mkdir()
    (out / 'x').write_text('x')
    assert _load_tool().main([coco_set['ann_file'], coco_set['image_dir'],
                              str(out)]) == 2
    assert 'is not empty; pass --overwrite' in capsys.readouterr().err
    assert os.listdir(out) == ['x']
    assert _load_tool().main([coco_set['ann_file'], coco_set['image_dir'],
                              str(out), '--overwrite', '--no-progress']) == 0
    assert sorted(os.listdir(out)) == ['categories.txt', 'train',
                                       'train.json']


def test_same_stem_in_two_folders_gets_distinct_video_names(coco_set):
    image_dir = coco_set['tmp'] / 'images'
    (image_dir / 'other').mkdir()
    cv2.imwrite(str(image_dir / 'other' / 'a.jpg'),
                np.zeros((4, 4, 3), np.uint8))
    coco = coco_set['coco']
    coco['images'][1]['file_name'] = 'sub/a.png'
    os.rename(image_dir / 'sub' / 'b.png', image_dir / 'sub' / 'a.png')
    coco['images'].append(dict(id=4, file_name='other/a.jpg', height=4,
                               width=4))
    with open(coco_set['ann_file'], 'w') as f:
        json.dump(coco, f)
    conv = read_coco(coco_set['ann_file'], str(image_dir))
    assert sorted(v['name'] for v in conv['videos']) == [
        'a', 'empty', 'other_a', 'sub_a']


def test_runs_as_a_script(coco_set):
    out = coco_set['tmp'] / 'script_out'
    result = subprocess.run(
        [sys.executable, TOOL, coco_set['ann_file'], coco_set['image_dir'],
         str(out), '--no-progress'], capture_output=True, text=True,
        cwd=str(coco_set['tmp']))
    assert result.returncode == 0, result.stderr
    assert 'wrote' in result.stdout and '3 dog' in result.stdout
    assert (out / 'train.json').is_file()
