"""Tests of the PNG instance-mask converter: vis/datasets/converters/davis.py,
vis/datasets/converters/mots.py and tools/dataset_converters/png2ytvis.py
(with the round-trip exporters of tests/export_png.py)."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.export_png import decode_segmentation, export_davis, export_mots
from vis.datasets.converters.davis import (SKIP_UNANNOTATED_FRAME,
                                           SKIP_VIDEO_WITHOUT_PNG, SKIP_VOID,
                                           load_davis_categories, read_davis)
from vis.datasets.converters.mots import SKIP_CLASS_ZERO, SKIP_IGNORE, read_mots
from vis.datasets.converters.writer import ConversionError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SCRIPT = osp.join(ROOT, 'tools', 'dataset_converters', 'png2ytvis.py')

_spec = importlib.util.spec_from_file_location('png2ytvis', SCRIPT)
png2ytvis = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(png2ytvis)

W, H = 12, 10  # the hand-made frames are 12 wide, 10 high


# ---------------------------------------------------------------- helpers
def write_jpg(path, width=W, height=H, shade=90):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.new('RGB', (width, height), (shade, 120, 30)).save(path, quality=90)


def write_png(path, values, mode='P'):
    """values: (H, W) ints; mode 'P' (palette), 'L' (grey) or 'I;16'."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    if mode == 'I;16':
        Image.fromarray(np.asarray(values, np.uint16)).save(path)
        return
    image = Image.fromarray(np.asarray(values, np.uint8))
    if mode == 'P':
        # colours unrelated to the index: the reader must use the index
        image.putpalette([(7 * i + 40) % 256 for i in range(768)])
    image.save(path)


def box(top, left, bottom, right, value=1, dtype=np.uint8):
    """(H, W) mask with ``value`` in rows top..bottom-1, cols left..right-1."""
    mask = np.zeros((H, W), dtype)
    mask[top:bottom, left:right] = value
    return mask


def decode(seg, height=H, width=W):
    return None if seg is None else decode_segmentation(seg, height, width)


def run_main(argv):
    return png2ytvis.main([*argv, '--no-progress'])


def load_out(out_root):
    with open(osp.join(out_root, 'train.json')) as f:
        return json.load(f)


def make_davis(src, video, frames, level='480p', mode='P'):
    """frames: {stem: (H, W) values or None (jpg only)}."""
    parts = [level] if level else []
    for stem, values in frames.items():
        write_jpg(osp.join(src, 'JPEGImages', *parts, video, stem + '.jpg'))
        if values is not None:
            write_png(osp.join(src, 'Annotations', *parts, video,
                               stem + '.png'), values, mode)


def write_json(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


# ---------------------------------------------------------------- davis
def two_object_frames():
    first = box(1, 2, 4, 6, 1) + box(5, 6, 9, 11, 2)
    second = box(2, 3, 5, 7, 1)
    return {'00000': first, '00005': second}


@pytest.mark.parametrize('mode', ['P', 'L'])
def test_davis_exact_masks_palette_and_grey(tmp_path, mode):
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'cat', two_object_frames(), mode=mode)
    cats = write_json(tmp_path / 'cats.json', {'cat': {'1': 'cat', '2': 'dog'}})
    assert run_main([src, out, '--categories', cats]) == 0
    ann = load_out(out)
    assert [(c['id'], c['name']) for c in ann['categories']] == \
        [(1, 'cat'), (2, 'dog')]
    assert ann['videos'][0]['file_names'] == ['cat/00000.jpg', 'cat/00005.jpg']
    assert (ann['videos'][0]['width'], ann['videos'][0]['height']) == (W, H)
    first, second = ann['annotations']
    assert first['category_id'] == 1 and second['category_id'] == 2
    np.testing.assert_array_equal(decode(first['segmentations'][0]),
                                  box(1, 2, 4, 6))
    np.testing.assert_array_equal(decode(first['segmentations'][1]),
                                  box(2, 3, 5, 7))
    np.testing.assert_array_equal(decode(second['segmentations'][0]),
                                  box(5, 6, 9, 11))
    assert second['segmentations'][1] is None
    # frames are copied byte for byte
    for stem in ('00000', '00005'):
        with open(osp.join(src, 'JPEGImages', '480p', 'cat', stem + '.jpg'),
                  'rb') as f:
            source = f.read()
        with open(osp.join(out, 'train', 'JPEGImages', 'cat', stem + '.jpg'),
                  'rb') as f:
            assert f.read() == source
    # no staging folder is left next to OUT_ROOT
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]


def test_davis_2016_binary_is_one_object(tmp_path):
    src = str(tmp_path / 'davis')
    make_davis(src, 'bear', {'00000': box(2, 2, 6, 8, 255),
                             '00001': np.zeros((H, W), np.uint8),
                             '00002': box(3, 4, 7, 10, 255)})
    conv = read_davis(src, categories={'bear': {1: 'bear'}})
    (video,) = conv['videos']
    (inst,) = video['instances']
    assert inst['category'] == 'bear'
    np.testing.assert_array_equal(decode(inst['segmentations'][0]),
                                  box(2, 2, 6, 8))
    assert inst['segmentations'][1] is None
    np.testing.assert_array_equal(decode(inst['segmentations'][2]),
                                  box(3, 4, 7, 10))
    assert SKIP_VOID not in conv['skipped']


def test_davis_void_255_ignored_in_multi_object(tmp_path):
    src = str(tmp_path / 'davis')
    frame0 = box(1, 1, 4, 5, 1) + box(6, 6, 9, 10, 2)
    frame0[0, :] = 255  # void border: no instance
    frame1 = box(1, 2, 4, 6, 1)
    make_davis(src, 'v', {'00000': frame0, '00001': frame1}, mode='L')
    conv = read_davis(src, category='object')
    instances = conv['videos'][0]['instances']
    assert len(instances) == 2
    np.testing.assert_array_equal(decode(instances[0]['segmentations'][0]),
                                  box(1, 1, 4, 5))
    np.testing.assert_array_equal(decode(instances[1]['segmentations'][0]),
                                  box(6, 6, 9, 10))
    assert instances[1]['segmentations'][1] is None
    assert conv['skipped'] == {SKIP_VOID: 1}


def test_davis_natural_order_and_unannotated_frames(tmp_path):
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'v', {'frame_10': box(0, 0, 2, 2, 1),
                          'frame_2': box(2, 2, 4, 4, 1),
                          'frame_1': box(4, 4, 6, 6, 1),
                          'frame_3': None, 'frame_4': None})
    make_davis(src, 'no_png', {'00000': None, '00001': None})
    conv = read_davis(src, category='object')
    (video,) = conv['videos']
    assert [f['file_name'] for f in video['frames']] == \
        ['frame_1.jpg', 'frame_2.jpg', 'frame_10.jpg']
    assert video['frames'][0]['source'] == osp.abspath(
        osp.join(src, 'JPEGImages', '480p', 'v', 'frame_1.jpg'))
    segs = video['instances'][0]['segmentations']
    for seg, top in zip(segs, (4, 2, 0)):
        np.testing.assert_array_equal(decode(seg), box(top, top, top + 2,
                                                       top + 2))
    assert conv['skipped'] == {SKIP_UNANNOTATED_FRAME: 2,
                               SKIP_VIDEO_WITHOUT_PNG: 1}
    assert read_davis(src, category='object', progress=True) == conv
    assert run_main([src, out, '--category', 'object']) == 0
    ann = load_out(out)
    assert [v['file_names'] for v in ann['videos']] == \
        [['v/frame_1.jpg', 'v/frame_2.jpg', 'v/frame_10.jpg']]
    assert [c['name'] for c in ann['categories']] == ['object']


def test_davis_resolution_levels(tmp_path):
    src = str(tmp_path / 'davis')
    make_davis(src, 'v', {'00000': box(0, 0, 3, 3, 1)}, level='480p')
    big = np.zeros((20, 24), np.uint8)
    big[0:6, 0:6] = 1
    write_jpg(osp.join(src, 'JPEGImages', 'Full-Resolution', 'v',
                       '00000.jpg'), 24, 20)
    write_png(osp.join(src, 'Annotations', 'Full-Resolution', 'v',
                       '00000.png'), big)
    assert read_davis(src, category='o')['videos'][0]['frames'][0][
        'width'] == W  # 480p preferred
    full = read_davis(src, category='o', resolution='Full-Resolution')
    frame = full['videos'][0]['frames'][0]
    assert (frame['width'], frame['height']) == (24, 20)
    np.testing.assert_array_equal(
        decode(full['videos'][0]['instances'][0]['segmentations'][0], 20, 24),
        big)


def test_davis_without_level_youtube_vos_layout(tmp_path):
    src = str(tmp_path / 'ytvos')
    make_davis(src, 'abc', {'00000': box(0, 0, 3, 3, 1),
                            '00005': box(1, 1, 4, 4, 2)}, level=None)
    conv = read_davis(src, categories={'abc': {1: 'person', 2: 'dog'}})
    instances = conv['videos'][0]['instances']
    assert [i['category'] for i in instances] == ['person', 'dog']
    assert instances[0]['segmentations'][1] is None
    assert instances[1]['segmentations'][0] is None


# ---------------------------------------------------------- categories
def test_load_categories_mapping_and_meta(tmp_path):
    mapping = write_json(tmp_path / 'm.json', {'a': {'1': 'cat', '3': 'dog'}})
    assert load_davis_categories(mapping) == {'a': {1: 'cat', 3: 'dog'}}
    meta = write_json(tmp_path / 'meta.json', {'videos': {
        'a': {'objects': {'1': {'category': 'person', 'frames': ['00000']},
                          '2': {'category': 'ape', 'frames': ['00005']}}},
        'b': {'objects': {}}}})
    assert load_davis_categories(meta) == {'a': {1: 'person', 2: 'ape'},
                                           'b': {}}
    bad_index = write_json(tmp_path / 'bad.json', {'a': {'x': 'cat'}})
    with pytest.raises(ConversionError, match=r"bad\.json.*'a'.*'x'"):
        load_davis_categories(bad_index)
    no_name = write_json(tmp_path / 'noname.json', {'videos': {
        'a': {'objects': {'1': {'frames': []}}}}})
    with pytest.raises(ConversionError, match=r'noname\.json.*1'):
        load_davis_categories(no_name)
    (tmp_path / 'broken.json').write_text('{"a": ')
    with pytest.raises(ConversionError, match=r'broken\.json.*not a json'):
        load_davis_categories(str(tmp_path / 'broken.json'))


def test_cli_meta_json_categories(tmp_path):
    src, out = str(tmp_path / 'ytvos'), str(tmp_path / 'out')
    make_davis(src, 'abc', two_object_frames(), level=None)
    meta = write_json(tmp_path / 'meta.json', {'videos': {'abc': {'objects': {
        '1': {'category': 'zebra', 'frames': ['00000', '00005']},
        '2': {'category': 'ant', 'frames': ['00000']}}}}})
    assert run_main([src, out, '--categories', meta]) == 0
    ann = load_out(out)
    # ids are 1..N of the sorted names, not the order of the mapping
    assert [(c['id'], c['name']) for c in ann['categories']] == \
        [(1, 'ant'), (2, 'zebra')]
    assert [a['category_id'] for a in ann['annotations']] == [2, 1]


def test_cli_category_order(tmp_path):
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'cat', two_object_frames())
    cats = write_json(tmp_path / 'cats.json', {'cat': {'1': 'cat', '2': 'dog'}})
    assert run_main([src, out, '--categories', cats,
                     '--category-order', 'dog,cat,bird']) == 0
    ann = load_out(out)
    assert [(c['id'], c['name']) for c in ann['categories']] == \
        [(1, 'dog'), (2, 'cat'), (3, 'bird')]
    assert [a['category_id'] for a in ann['annotations']] == [2, 1]


def test_cli_no_category_source_is_an_error(tmp_path, capsys):
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'cat', two_object_frames())
    assert run_main([src, out]) == 2
    assert '--category object' in capsys.readouterr().err
    assert not osp.exists(out)
    with pytest.raises(ConversionError, match='--category object'):
        read_davis(src)


def test_missing_index_name_is_an_error(tmp_path, capsys):
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'cat', two_object_frames())
    cats = write_json(tmp_path / 'cats.json', {'cat': {'1': 'cat'}})
    assert run_main([src, out, '--categories', cats]) == 2
    err = capsys.readouterr().err
    assert "video 'cat'" in err and 'instance index 2' in err
    assert '00000.png' in err
    assert not osp.exists(out)


# ---------------------------------------------------------- bad input
def test_png_size_differs_from_frame(tmp_path, capsys):
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'v', {'00000': box(0, 0, 2, 2, 1)})
    write_png(osp.join(src, 'Annotations', '480p', 'v', '00000.png'),
              np.zeros((H + 1, W), np.uint8))
    with pytest.raises(ConversionError,
                       match=r'00000\.png is 12x11.*00000\.jpg is 12x10'):
        read_davis(src, category='o')
    assert run_main([src, out, '--category', 'o']) == 2
    assert '00000.png' in capsys.readouterr().err
    assert not osp.exists(out)


def test_corrupt_png(tmp_path):
    src = str(tmp_path / 'davis')
    make_davis(src, 'v', {'00000': box(0, 0, 2, 2, 1)})
    with open(osp.join(src, 'Annotations', '480p', 'v', '00000.png'),
              'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n garbage')
    with pytest.raises(ConversionError,
                       match=r'00000\.png: cannot read the PNG'):
        read_davis(src, category='o')


def test_rgb_png_is_refused_for_davis(tmp_path):
    src = str(tmp_path / 'davis')
    make_davis(src, 'v', {'00000': box(0, 0, 2, 2, 1)})
    Image.new('RGB', (W, H), (128, 0, 0)).save(
        osp.join(src, 'Annotations', '480p', 'v', '00000.png'))
    with pytest.raises(ConversionError,
                       match=r"00000\.png: PNG mode 'RGB'.*palette \(P\)"):
        read_davis(src, category='o')


def test_png_without_frame_image(tmp_path):
    src = str(tmp_path / 'davis')
    make_davis(src, 'v', {'00000': box(0, 0, 2, 2, 1)})
    write_png(osp.join(src, 'Annotations', '480p', 'v', '00007.png'),
              box(0, 0, 2, 2, 1))
    with pytest.raises(ConversionError,
                       match=r'00007\.png: annotation PNG without a frame'):
        read_davis(src, category='o')
    write_png(osp.join(src, 'Annotations', '480p', 'ghost', '00000.png'),
              box(0, 0, 2, 2, 1))
    with pytest.raises(ConversionError, match=r'ghost.00000\.png'):
        read_davis(src, category='o')


def test_non_empty_out_root_needs_overwrite(tmp_path, capsys):
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'v', {'00000': box(0, 0, 2, 2, 1)})
    os.makedirs(out)
    with open(osp.join(out, 'keep.txt'), 'w') as f:
        f.write('old')
    assert run_main([src, out, '--category', 'o']) == 2
    assert '--overwrite' in capsys.readouterr().err
    assert os.listdir(out) == ['keep.txt']
    assert run_main([src, out, '--category', 'o', '--overwrite']) == 0
    assert sorted(os.listdir(out)) == ['categories.txt', 'train',
                                       'train.json']


def test_failed_conversion_leaves_existing_out_root_untouched(tmp_path):
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'v', {'00000': box(0, 0, 2, 2, 1)})
    assert run_main([src, out, '--category', 'o']) == 0
    before = load_out(out)
    Image.new('RGB', (W, H)).save(
        osp.join(src, 'Annotations', '480p', 'v', '00000.png'))
    assert run_main([src, out, '--category', 'o', '--overwrite']) == 2
    assert load_out(out) == before
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]


# ---------------------------------------------------------------- mots
def make_mots_subset(src, subset, frames, labels='car\nperson\n'):
    """frames: {stem: (H, W) uint16 values or None (image only)}."""
    for stem, values in frames.items():
        write_jpg(osp.join(src, subset, 'images', stem + '.jpg'))
        if values is not None:
            write_png(osp.join(src, subset, 'instances', stem + '.png'),
                      values, 'I;16')
    if labels is not None:
        with open(osp.join(src, subset, 'instances', 'labels.txt'), 'w') as f:
            f.write(labels)


def test_mots_datumaro_layout(tmp_path):
    src, out = str(tmp_path / 'mots'), str(tmp_path / 'out')
    frame0 = box(0, 0, 3, 4, 1001, np.uint16) + box(5, 0, 8, 4, 1002,
                                                    np.uint16) + \
        box(0, 6, 4, 12, 2001, np.uint16)
    frame1 = box(1, 1, 4, 5, 1001, np.uint16) + box(6, 7, 9, 12, 2001,
                                                    np.uint16)
    make_mots_subset(src, 'seqA', {'frame_2': frame1, 'frame_1': frame0,
                                   'frame_3': None})
    make_mots_subset(src, 'seqB', {'000001': box(2, 2, 5, 5, 2007,
                                                 np.uint16)})
    conv = read_mots(src)
    assert [v['name'] for v in conv['videos']] == ['seqA', 'seqB']
    seq_a = conv['videos'][0]
    assert [f['file_name'] for f in seq_a['frames']] == ['frame_1.jpg',
                                                         'frame_2.jpg']
    assert [i['category'] for i in seq_a['instances']] == ['car', 'car',
                                                           'person']
    car1, car2, person = (i['segmentations'] for i in seq_a['instances'])
    np.testing.assert_array_equal(decode(car1[0]), box(0, 0, 3, 4))
    np.testing.assert_array_equal(decode(car1[1]), box(1, 1, 4, 5))
    np.testing.assert_array_equal(decode(car2[0]), box(5, 0, 8, 4))
    assert car2[1] is None
    np.testing.assert_array_equal(decode(person[1]), box(6, 7, 9, 12))
    assert conv['skipped'] == {'frame without a MOTS PNG (unannotated)': 1}
    assert read_mots(src, progress=True) == conv  # the bar changes nothing
    assert run_main([src, out, '--format', 'mots']) == 0
    ann = load_out(out)
    assert [c['name'] for c in ann['categories']] == ['car', 'person']
    assert [a['category_id'] for a in ann['annotations']] == [1, 1, 2, 2]
    assert ann['videos'][1]['file_names'] == ['seqB/000001.jpg']


def test_mots_kitti_layout_ignore_region(tmp_path):
    src = str(tmp_path / 'kitti')
    frame0 = box(0, 0, 3, 3, 1005, np.uint16) + box(4, 4, 7, 8, 2003,
                                                    np.uint16)
    frame0[8:, :] = 10000  # ignore region
    frame1 = box(1, 1, 4, 4, 1005, np.uint16)
    frame1[9, :] = 10000
    for stem, values in (('000000', frame0), ('000001', frame1)):
        write_png(osp.join(src, 'instances', '0002', stem + '.png'), values,
                  'I;16')
        os.makedirs(osp.join(src, 'training', 'image_02', '0002'),
                    exist_ok=True)
        Image.new('RGB', (W, H)).save(
            osp.join(src, 'training', 'image_02', '0002', stem + '.png'))
    conv = read_mots(src)
    (video,) = conv['videos']
    assert video['name'] == '0002'
    assert [f['file_name'] for f in video['frames']] == ['000000.png',
                                                         '000001.png']
    assert [i['category'] for i in video['instances']] == ['car',
                                                           'pedestrian']
    car, pedestrian = (i['segmentations'] for i in video['instances'])
    np.testing.assert_array_equal(decode(car[0]), box(0, 0, 3, 3))
    np.testing.assert_array_equal(decode(car[1]), box(1, 1, 4, 4))
    np.testing.assert_array_equal(decode(pedestrian[0]), box(4, 4, 7, 8))
    assert pedestrian[1] is None
    assert conv['skipped'] == {SKIP_IGNORE: 2}


def test_mots_class_zero_value_is_warned(tmp_path):
    src = str(tmp_path / 'mots')
    make_mots_subset(src, 's', {'0': box(0, 0, 2, 2, 7, np.uint16) +
                                box(4, 4, 6, 6, 1001, np.uint16)})
    conv = read_mots(src)
    assert len(conv['videos'][0]['instances']) == 1
    assert conv['skipped'] == {SKIP_CLASS_ZERO: 1}
    assert len(conv['warnings']) == 1 and 'value 7' in conv['warnings'][0]
    assert '0.png' in conv['warnings'][0]


def test_mots_bad_input(tmp_path, capsys):
    src, out = str(tmp_path / 'mots'), str(tmp_path / 'out')
    make_mots_subset(src, 's', {'000001': box(0, 0, 2, 2, 3001, np.uint16)})
    with pytest.raises(ConversionError,
                       match=r'000001\.png: value 3001 has class_id 3'):
        read_mots(src)
    assert run_main([src, out, '--format', 'mots']) == 2
    assert '3001' in capsys.readouterr().err and not osp.exists(out)
    os.remove(osp.join(src, 's', 'instances', 'labels.txt'))
    with pytest.raises(ConversionError, match=r'labels\.txt not found'):
        read_mots(src)
    make_mots_subset(src, 's', {'000001': np.zeros((H, W + 2), np.uint16)})
    with pytest.raises(ConversionError,
                       match=r'000001\.png is 14x10.*000001\.jpg is 12x10'):
        read_mots(src)
    with open(osp.join(src, 's', 'instances', '000001.png'), 'wb') as f:
        f.write(b'not a png')
    with pytest.raises(ConversionError,
                       match=r'000001\.png: cannot read the PNG'):
        read_mots(src)
    write_png(osp.join(src, 's', 'instances', '000001.png'),
              box(0, 0, 2, 2, 1), 'P')
    with pytest.raises(ConversionError, match=r'000001\.png: 8-bit PNG'):
        read_mots(src)
    write_png(osp.join(src, 's', 'instances', '000009.png'),
              box(0, 0, 2, 2, 1001, np.uint16), 'I;16')
    with pytest.raises(ConversionError,
                       match=r'000009\.png: MOTS PNG without a frame image'):
        read_mots(src)
    assert run_main([src, out, '--format', 'mots', '--category', 'x']) == 2
    assert '--category' in capsys.readouterr().err


# ---------------------------------------------------------- round trips
@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    from vis.datasets.synthetic import make_synthetic_ytvis
    root = str(tmp_path_factory.mktemp('synthetic'))
    make_synthetic_ytvis(root, num_train=4, num_valid=0, num_frames=5,
                         height=64, width=96, seed=3, max_objects=3)
    with open(osp.join(root, 'train.json')) as f:
        ann = json.load(f)
    return root, ann


def assert_same_dataset(original, converted, track_key):
    """Same videos and frames, and per video the same instances (ordered by
    ``track_key(annotation, position in the video)``) with exactly equal
    masks and None pattern and the same category names."""
    orig_names = {c['id']: c['name'] for c in original['categories']}
    conv_names = {c['id']: c['name'] for c in converted['categories']}
    assert sorted(conv_names.values()) == sorted(
        {orig_names[a['category_id']] for a in original['annotations']})
    assert [v['file_names'] for v in converted['videos']] == \
        [v['file_names'] for v in original['videos']]
    for orig_video, conv_video in zip(original['videos'],
                                      converted['videos']):
        height, width = orig_video['height'], orig_video['width']
        assert (conv_video['height'], conv_video['width']) == (height, width)
        orig = [a for a in original['annotations']
                if a['video_id'] == orig_video['id']]
        orig = [a for _, a in sorted(
            (track_key(a, k), a) for k, a in enumerate(orig))] \
            if orig else []
        conv = [a for a in converted['annotations']
                if a['video_id'] == conv_video['id']]
        assert len(conv) == len(orig) > 0
        for o, c in zip(orig, conv):
            assert conv_names[c['category_id']] == orig_names[o['category_id']]
            for t, (so, sc) in enumerate(zip(o['segmentations'],
                                             c['segmentations'])):
                assert (so is None) == (sc is None), (orig_video['id'], t)
                if so is not None:
                    np.testing.assert_array_equal(
                        decode(so, height, width), decode(sc, height, width))


def check_dataset_tool(out_root):
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'check_dataset.py'),
         out_root], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('palette,resolution', [(True, '480p'),
                                                (False, None)])
def test_round_trip_davis(tmp_path, synthetic, palette, resolution):
    root, ann = synthetic
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    cats = export_davis(osp.join(root, 'train.json'),
                        osp.join(root, 'train', 'JPEGImages'), src,
                        palette=palette, resolution=resolution)
    assert not cats.startswith(osp.join(src, 'Annotations'))
    mode = Image.open(osp.join(src, 'Annotations', *(
        [resolution] if resolution else []), ann['videos'][0]['file_names'][
            0].replace('.jpg', '.png'))).mode
    assert mode == ('P' if palette else 'L')
    order = ','.join(c['name'] for c in ann['categories'])
    assert run_main([src, out, '--categories', cats,
                     '--category-order', order]) == 0
    converted = load_out(out)
    assert converted['categories'] == [
        dict(id=c['id'], name=c['name'], supercategory='')
        for c in ann['categories']]
    assert_same_dataset(ann, converted, track_key=lambda a, k: k)
    if palette:
        check_dataset_tool(out)


def test_round_trip_mots(tmp_path, synthetic):
    root, ann = synthetic
    src, out = str(tmp_path / 'mots'), str(tmp_path / 'out')
    export_mots(osp.join(root, 'train.json'),
                osp.join(root, 'train', 'JPEGImages'), src)
    with open(osp.join(src, ann['videos'][0]['file_names'][0].split('/')[0],
                       'instances', 'labels.txt')) as f:
        assert f.read().split() == [c['name'] for c in ann['categories']]
    assert run_main([src, out, '--format', 'mots']) == 0
    converted = load_out(out)
    # MOTS instances come in pixel-value order: category id, then track
    assert_same_dataset(ann, converted,
                        track_key=lambda a, k: (a['category_id'], k))


# ------------------------------------------------------------- script
def test_script_runs(tmp_path):
    result = subprocess.run([sys.executable, SCRIPT, '--help'],
                            capture_output=True, text=True, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert '--format' in result.stdout and '--categories' in result.stdout
    src, out = str(tmp_path / 'davis'), str(tmp_path / 'out')
    make_davis(src, 'cat', two_object_frames())
    result = subprocess.run(
        [sys.executable, SCRIPT, src, out, '--category', 'animal',
         '--no-progress'], capture_output=True, text=True, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert 'wrote' in result.stdout
    ann = load_out(out)
    assert len(ann['annotations']) == 2
    assert [c['name'] for c in ann['categories']] == ['animal']
    check_dataset_tool(out)
    result = subprocess.run([sys.executable, SCRIPT, src, str(tmp_path / 'x')],
                            capture_output=True, text=True, cwd=str(tmp_path))
    assert result.returncode == 2 and 'error:' in result.stderr
