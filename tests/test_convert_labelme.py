"""The labelme converter: vis/datasets/converters/labelme.py and
tools/dataset_converters/labelme2ytvis.py (plus the test exporter
tests/export_labelme.py used for the round trip)."""
import base64
import io
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

from vis.datasets.converters import ConversionError
from vis.datasets.converters.labelme import (read_labelme, resolve_image,
                                             shape_to_mask)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'labelme2ytvis.py')
sys.path.insert(0, osp.join(ROOT, 'tests'))
sys.path.insert(0, osp.join(ROOT, 'tools', 'dataset_converters'))
from export_labelme import (decode_segmentation, export_labelme,  # noqa: E402
                            mask_to_polygons)
import labelme2ytvis  # noqa: E402

H, W = 16, 20  # size of the hand-written frames


# ---------------------------------------------------------------- helpers
def write_image(path, height=H, width=W, value=0):
    """Write a small image (its pixel (0, 0) differs per value)."""
    image = np.full((height, width, 3), 60, np.uint8)
    image[0, 0] = (value, 2 * value % 256, 7)
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return str(path)


def shape(label, points, shape_type='polygon', group_id=None, **extra):
    return dict(label=label, points=points, group_id=group_id,
                shape_type=shape_type, flags={}, description='', **extra)


SAME_STEM = object()


def write_json(path, shapes, image_path=SAME_STEM, height=H, width=W,
               **extra):
    """Write a labelme json (labelme 5.x keys), by default for the image
    of the same stem (.png); returns its path."""
    path = str(path)
    if image_path is SAME_STEM:
        image_path = osp.splitext(osp.basename(path))[0] + '.png'
    labelme = dict(version='5.5.0', flags={}, shapes=shapes,
                   imagePath=image_path, imageData=None, imageHeight=height,
                   imageWidth=width)
    labelme.update(extra)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(labelme, f)
    return path


def frame(folder, stem, shapes, ext='.png', height=H, width=W, value=0,
          **extra):
    """Write SRC/<video>/<stem><ext> and its labelme json."""
    write_image(osp.join(str(folder), stem + ext), height, width, value)
    return write_json(osp.join(str(folder), stem + '.json'), shapes,
                      image_path=stem + ext, height=height, width=width,
                      **extra)


def box(x0, y0, x1, y1, height=H, width=W):
    """(H, W) uint8 with pixel rows y0..y1-1, columns x0..x1-1 set."""
    mask = np.zeros((height, width), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


#: a triangle whose edges pass no pixel centre: the centres (c + .5, r + .5)
#: with x >= 1, y >= 1 and x + y <= 7.2, i.e. c >= 1, r >= 1, c + r <= 6
TRIANGLE = [[1, 1], [6.2, 1], [1, 6.2]]


def triangle_mask():
    mask = np.zeros((H, W), np.uint8)
    for r in range(1, 6):
        mask[r, 1:7 - r] = 1
    return mask


def png_b64(array):
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buffer, format='PNG')
    return base64.b64encode(buffer.getvalue()).decode('ascii')


def convert(src, out, *options):
    """Run the CLI in-process; return its exit status."""
    return labelme2ytvis.main([str(src), str(out), '--no-progress',
                               *map(str, options)])


def load(out, split='train'):
    with open(osp.join(str(out), f'{split}.json')) as f:
        return json.load(f)


def decode(rle):
    return mask_utils.decode(dict(size=rle['size'],
                                  counts=rle['counts'].encode('ascii')))


def masks_of(ann, video_index=0):
    """[[ (H, W) mask or None per frame ] per annotation] of one video."""
    video_id = ann['videos'][video_index]['id']
    return [[None if s is None else decode(s) for s in a['segmentations']]
            for a in ann['annotations'] if a['video_id'] == video_id]


def expect_error(capsys, src, out, pattern, *options):
    """The CLI fails with exit 2, ``error: <pattern>``, and writes nothing."""
    assert convert(src, out, *options) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ')
    assert pattern in err, err
    assert not osp.exists(str(out))
    assert not [n for n in os.listdir(osp.dirname(str(out)))
                if n.startswith('.' + osp.basename(str(out)))]
    return err


# ------------------------------------------------- rasterising each shape
def test_rectangle_any_corner_order_is_the_pixel_centres_in_the_box():
    mask = shape_to_mask(shape('a', [[12, 9], [3, 2]], 'rectangle'), H, W)
    assert mask.dtype == np.uint8 and mask.shape == (H, W)
    np.testing.assert_array_equal(mask, box(3, 2, 12, 9))
    # fractional corners: centres 3.5, 4.5, 5.5 lie in [2.6, 5.5] (closed)
    mask = shape_to_mask(shape('a', [[2.6, 4.5], [5.5, 1.4]], 'rectangle'),
                         H, W)
    np.testing.assert_array_equal(mask, box(3, 1, 6, 5))


def test_circle_is_the_disc_of_pixel_centres():
    # centre (2.5, 2.5), radius 1.5: the 3x3 pixels around pixel (2, 2)
    # (corner centres at distance sqrt(2) <= 1.5, (2.5 +- 2) at 2 > 1.5)
    mask = shape_to_mask(shape('a', [[2.5, 2.5], [2.5, 4.0]], 'circle'), H, W)
    np.testing.assert_array_equal(mask, box(1, 1, 4, 4))
    # a bigger one against the formula (c + .5 - cx)^2 + (r + .5 - cy)^2
    # <= radius^2, radius from the centre to the second point
    cx, cy, px, py = 10.0, 7.0, 13.0, 11.0   # radius 5
    mask = shape_to_mask(shape('a', [[cx, cy], [px, py]], 'circle'), H, W)
    expected = np.zeros((H, W), np.uint8)
    for r in range(H):
        for c in range(W):
            if (c + .5 - cx) ** 2 + (r + .5 - cy) ** 2 <= 25:
                expected[r, c] = 1
    np.testing.assert_array_equal(mask, expected)
    # row 7 (centre y 7.5): |c + .5 - 10| <= sqrt(24.75) = 4.97: c = 5..14
    assert mask[7].tolist() == [0] * 5 + [1] * 10 + [0] * 5


def test_polygon_triangle_and_missing_shape_type():
    expected = triangle_mask()
    assert expected.sum() == 5 + 4 + 3 + 2 + 1
    np.testing.assert_array_equal(
        shape_to_mask(shape('a', TRIANGLE), H, W), expected)
    for missing in (dict(shape_type=None), {}):
        no_type = dict(label='a', points=TRIANGLE, **missing)
        np.testing.assert_array_equal(shape_to_mask(no_type, H, W), expected)
    # a square through pixel corners is exactly its pixels
    square = [[2, 3], [6, 3], [6, 8], [2, 8]]
    np.testing.assert_array_equal(shape_to_mask(shape('a', square), H, W),
                                  box(2, 3, 6, 8))
    np.testing.assert_array_equal(
        shape_to_mask(shape('a', square, 'oriented_rectangle'), H, W),
        box(2, 3, 6, 8))


def test_mask_shape_is_placed_at_the_first_corner():
    patch = np.array([[1, 0, 0, 1],
                      [0, 1, 1, 0],
                      [1, 1, 1, 1]], np.uint8)
    mask_shape = shape('a', [[5, 2], [8, 4]], 'mask', mask=png_b64(patch))
    expected = np.zeros((H, W), np.uint8)
    expected[2:5, 5:9] = patch
    np.testing.assert_array_equal(shape_to_mask(mask_shape, H, W), expected)
    # a mask PNG stored as 0/255 reads the same
    mask_shape['mask'] = png_b64(patch * 255)
    np.testing.assert_array_equal(shape_to_mask(mask_shape, H, W), expected)
    # clipped at the image border
    corner = shape('a', [[18, 14], [21, 16]], 'mask', mask=png_b64(patch))
    expected = np.zeros((H, W), np.uint8)
    expected[14:16, 18:20] = patch[:2, :2]
    np.testing.assert_array_equal(shape_to_mask(corner, H, W), expected)


def test_each_shape_type_through_the_cli(tmp_path, capsys):
    src, out = tmp_path / 'src', tmp_path / 'out'
    patch = np.array([[0, 1, 1], [1, 1, 1]], np.uint8)
    frame(src / 'vid', '0001', [
        shape('box', [[1, 1], [4, 3]], 'rectangle'),
        shape('disc', [[2.5, 2.5], [2.5, 4.0]], 'circle'),
        shape('tri', TRIANGLE, 'polygon'),
        shape('blob', [[10, 10], [12, 11]], 'mask', mask=png_b64(patch)),
        shape('trail', [[0, 0], [5, 5], [9, 2]], 'linestrip'),
        shape('trail', [[0, 0], [5, 5]], 'line'),
        shape('dot', [[3, 3]], 'point'),
        shape('dots', [[3, 3], [4, 4]], 'points'),
    ], extra_key={'ignored': True})
    assert convert(src, out) == 0
    ann = load(out)
    names = [c['name'] for c in ann['categories']]
    assert names == ['blob', 'box', 'disc', 'tri']   # sorted, no 'trail'
    assert [c['id'] for c in ann['categories']] == [1, 2, 3, 4]
    by_name = {names[a['category_id'] - 1]: decode(a['segmentations'][0])
               for a in ann['annotations']}
    np.testing.assert_array_equal(by_name['box'], box(1, 1, 4, 3))
    np.testing.assert_array_equal(by_name['disc'], box(1, 1, 4, 4))
    np.testing.assert_array_equal(by_name['tri'], triangle_mask())
    expected = np.zeros((H, W), np.uint8)
    expected[10:12, 10:13] = patch
    np.testing.assert_array_equal(by_name['blob'], expected)
    printed = capsys.readouterr().out
    for kind in ('linestrip', 'line', 'point', 'points'):
        assert f"1  shape_type '{kind}' (not an area)" in printed
    assert 'warnings' not in printed


# ----------------------------------------------------------------- grouping
def test_shapes_of_one_label_and_group_id_are_merged(tmp_path):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [
        shape('cat', [[0, 0], [3, 3]], 'rectangle', group_id=1),
        shape('cat', [[6, 0], [8, 2]], 'rectangle', group_id=1),
        shape('cat', [[10, 10], [12, 12]], 'rectangle', group_id=2),
        shape('dog', [[14, 0], [16, 2]], 'rectangle', group_id=1),
    ])
    video = read_labelme(str(src), progress=True)['videos'][0]
    assert [i['category'] for i in video['instances']] == ['cat', 'cat', 'dog']
    first = decode(video['instances'][0]['segmentations'][0])
    np.testing.assert_array_equal(first, box(0, 0, 3, 3) | box(6, 0, 8, 2))
    np.testing.assert_array_equal(
        decode(video['instances'][1]['segmentations'][0]), box(10, 10, 12, 12))
    assert video['instances'][1]['where'].endswith(
        osp.join('vid', '0001.json') + ' label "cat" group 2')


def test_two_ungrouped_shapes_of_one_label_in_a_frame_is_an_error(
        tmp_path, capsys):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [shape('cat', [[0, 0], [3, 3]], 'rectangle')])
    frame(src / 'vid', '0002', [shape('cat', [[0, 0], [3, 3]], 'rectangle'),
                                shape('cat', [[5, 5], [8, 8]], 'rectangle')])
    with pytest.raises(ConversionError,
                       match=r"label 'cat' has several shapes without "
                       r"group_id in one frame, in 0002\.json; give"):
        read_labelme(str(src))
    expect_error(capsys, src, tmp_path / 'out', 'in 0002.json')


def test_ungrouped_and_grouped_shapes_of_one_label_is_an_error(tmp_path):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [shape('cat', [[0, 0], [3, 3]], 'rectangle')])
    frame(src / 'vid', '0002', [
        shape('cat', [[0, 0], [3, 3]], 'rectangle', group_id=4)])
    with pytest.raises(ConversionError,
                       match=r"video .*vid: label 'cat' has shapes without "
                       r"group_id \(in 0001\.json\) and shapes with a "
                       r"group_id \(in 0002\.json\); give all shapes"):
        read_labelme(str(src))


def test_one_ungrouped_shape_per_frame_is_one_instance_over_frames(tmp_path):
    src, out = tmp_path / 'src', tmp_path / 'out'
    frame(src / 'vid', '0001', [shape('cat', [[0, 0], [3, 3]], 'rectangle'),
                                shape('dog', [[9, 9], [12, 12]], 'rectangle')])
    frame(src / 'vid', '0002', [shape('dog', [[9, 9], [12, 13]], 'rectangle')])
    frame(src / 'vid', '0003', [shape('cat', [[1, 1], [4, 4]], 'rectangle')])
    assert convert(src, out, '--categories', 'dog,cat') == 0
    ann = load(out)
    assert ann['categories'][0]['name'] == 'dog'
    cat, dog = masks_of(ann)   # order of first appearance
    assert [a['category_id'] for a in ann['annotations']] == [2, 1]
    np.testing.assert_array_equal(cat[0], box(0, 0, 3, 3))
    assert cat[1] is None
    np.testing.assert_array_equal(cat[2], box(1, 1, 4, 4))
    np.testing.assert_array_equal(dog[1], box(9, 9, 12, 13))
    assert dog[2] is None
    assert ann['annotations'][0]['areas'] == [9.0, None, 9.0]


# --------------------------------------------------------- frames, videos
def test_natural_order_unannotated_frames_and_layout(tmp_path, capsys):
    src, out = tmp_path / 'src', tmp_path / 'out'
    for stem in ('frame_10', 'frame_2', 'frame_1'):
        frame(src / 'vid', stem, [shape('cat', [[0, 0], [2, 2]], 'rectangle')])
    write_image(src / 'vid' / 'frame_3.png')            # no json
    write_image(src / 'vid' / 'FRAME_4.JPG')            # no json, any case
    frame(src / 'Other', 'A', [], ext='.BMP')           # no shapes: kept
    frame(src / 'Other', 'b', [], ext='.jpeg')
    write_image(src / 'empty' / '0001.png')             # video without json
    frame(src / 'vid' / 'deeper', 'x', [])              # not searched
    (src / 'notes.txt').write_text('not a video')
    assert convert(src, out) == 0
    ann = load(out)
    assert [v['file_names'] for v in ann['videos']] == [
        ['Other/A.BMP', 'Other/b.jpeg'],
        ['vid/frame_1.png', 'vid/frame_2.png', 'vid/frame_10.png']]
    assert sorted(os.listdir(out / 'train' / 'JPEGImages')) == ['Other', 'vid']
    assert sorted(os.listdir(out / 'train' / 'JPEGImages' / 'vid')) == [
        'frame_1.png', 'frame_10.png', 'frame_2.png']
    printed = capsys.readouterr().out
    assert '2  frame without a labelme json' in printed
    assert '1  video folder without a labelme json' in printed
    assert len(ann['annotations']) == 1
    assert ann['annotations'][0]['length'] == 3


def test_frames_of_different_sizes_is_an_error_naming_both(tmp_path, capsys):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [])
    frame(src / 'vid', '0002', [], height=12, width=10)
    err = expect_error(capsys, src, tmp_path / 'out', '0002.json is 10x12 but')
    assert osp.join('vid', '0001.json') + ' is 20x16' in err


def test_a_json_directly_in_src_is_a_layout_error(tmp_path, capsys):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [])
    frame(src, 'stray', [])
    err = expect_error(capsys, src, tmp_path / 'out', 'stray.json')
    assert 'the layout is SRC/<video>/<frame>.json' in err


# ------------------------------------------------------------ the images
def test_windows_image_paths_fall_back_to_the_file_next_to_the_json(
        tmp_path):
    src = tmp_path / 'src'
    write_image(src / 'vid' / '0001.jpg')
    write_json(src / 'vid' / '0001.json', [], image_path='..\\frames\\0001.jpg')
    write_image(src / 'vid' / '0002.jpg')
    write_json(src / 'vid' / '0002.json', [],
               image_path='C:\\data\\vid\\0002.jpg')
    write_image(src / 'vid' / '0003.PNG')   # same stem, other name
    write_json(src / 'vid' / '0003.json', [], image_path='D:\\old\\x.jpg')
    write_image(src / 'vid' / 'sub' / 'f4.png')
    write_json(src / 'vid' / '0004.json', [], image_path='sub\\f4.png')
    video = read_labelme(str(src))['videos'][0]
    folder = osp.abspath(str(src / 'vid'))
    assert [(f['file_name'], f['source']) for f in video['frames']] == [
        ('0001.jpg', osp.join(folder, '0001.jpg')),
        ('0002.jpg', osp.join(folder, '0002.jpg')),
        ('0003.PNG', osp.join(folder, '0003.PNG')),
        ('f4.png', osp.join(folder, 'sub', 'f4.png'))]
    assert {(f['height'], f['width']) for f in video['frames']} == {(H, W)}


def test_embedded_image_data_is_written_when_the_image_is_absent(tmp_path):
    src, out = tmp_path / 'src', tmp_path / 'out'
    png = write_image(tmp_path / 'elsewhere' / 'a.png', value=9)
    with open(png, 'rb') as f:
        png_bytes = f.read()
    _, jpg_bytes = cv2.imencode('.jpg', np.zeros((H, W, 3), np.uint8))
    jpg_bytes = jpg_bytes.tobytes()
    write_json(src / 'vid' / '0001.json',
               [shape('cat', [[0, 0], [2, 2]], 'rectangle')],
               image_path='C:\\labelling\\0001.png',
               imageData=base64.b64encode(png_bytes).decode('ascii'))
    write_json(src / 'vid' / '0002.json', [], image_path=None,
               imageData=base64.b64encode(jpg_bytes).decode('ascii'))
    video = read_labelme(str(src))['videos'][0]
    assert [(f['file_name'], f['source']) for f in video['frames']] == [
        ('0001.png', None), ('0002.jpg', None)]
    assert video['frames'][0]['data'] == png_bytes
    assert convert(src, out) == 0
    written = out / 'train' / 'JPEGImages' / 'vid'
    assert (written / '0001.png').read_bytes() == png_bytes
    assert (written / '0002.jpg').read_bytes() == jpg_bytes


def test_missing_image_not_embedded_names_the_json_and_the_paths_tried(
        tmp_path, capsys):
    src = tmp_path / 'src'
    write_json(src / 'vid' / '0001.json', [], image_path='..\\img\\0001.jpg')
    folder = osp.abspath(str(src / 'vid'))
    with pytest.raises(ConversionError) as info:
        resolve_image(str(src / 'vid' / '0001.json'),
                      dict(imagePath='..\\img\\0001.jpg'))
    message = str(info.value)
    assert message.startswith(str(src / 'vid' / '0001.json'))
    assert 'image not found and no imageData embedded' in message
    assert osp.join(osp.dirname(folder), 'img', '0001.jpg') in message
    assert osp.join(folder, '0001.jpg') in message
    assert '0001.<jpg|jpeg|png|bmp>' in message
    expect_error(capsys, src, tmp_path / 'out', 'image not found')


def test_image_size_disagreeing_with_the_json_is_an_error(tmp_path, capsys):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [])
    write_image(src / 'vid' / '0002.png')
    write_json(src / 'vid' / '0002.json', [], height=30, width=40)
    err = expect_error(capsys, src, tmp_path / 'out', '0002.json: imageHeight '
                       'x imageWidth 30x40 differ from the image')
    assert 'which is 16x20 (height x width)' in err


# ------------------------------------------------------------ bad input
def test_invalid_json_names_the_file_and_the_position(tmp_path, capsys):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [])
    write_image(src / 'vid' / '0002.png')
    (src / 'vid' / '0002.json').write_text('{"shapes": [\n  {"label": }\n]}')
    err = expect_error(capsys, src, tmp_path / 'out', '0002.json: invalid JSON')
    assert 'at line 2 column 13' in err


@pytest.mark.parametrize('content, message', [
    (dict(version='4.0.0'), 'no "shapes" key'),
    (dict(shapes={'label': 'cat'}), '"shapes" must be a list, got dict'),
    ([1, 2], 'a labelme json is an object, got list'),
])
def test_json_without_a_shapes_list_is_an_error(tmp_path, capsys, content,
                                                message):
    src = tmp_path / 'src'
    write_image(src / 'vid' / '0001.png')
    (src / 'vid' / '0001.json').write_text(json.dumps(content))
    expect_error(capsys, src, tmp_path / 'out', f'0001.json: {message}')


@pytest.mark.parametrize('bad_shape, message', [
    (shape('cat', [[0, 0], [5, 5]]),
     "shape 1 (label 'cat'): a polygon needs at least 3 points, got 2"),
    (shape('cat', [[0, 0], [5, 5], [1, 1]], 'rectangle'),
     "shape 1 (label 'cat'): a rectangle needs exactly 2 points, got 3"),
    (shape('cat', [[0, 0], ['a', 5]], 'circle'),
     "shape 1 (label 'cat'): \"points\" must be a list of [x, y] numbers"),
    (shape('cat', [[0, 0], [2, 2]], 'mask'),
     "shape 1 (label 'cat'): a mask shape needs \"mask\", a base64 PNG"),
    (shape('', [[0, 0], [2, 2]], 'rectangle'),
     'shape 1: "label" must be a non-empty string'),
])
def test_bad_shapes_name_the_json_the_index_and_the_label(
        tmp_path, capsys, bad_shape, message):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [])
    frame(src / 'vid', '0002', [shape('dog', [[0, 0], [2, 2]], 'rectangle'),
                                bad_shape])
    with pytest.raises(ConversionError) as info:
        read_labelme(str(src))
    assert message in str(info.value)
    assert str(info.value).startswith(str(src / 'vid' / '0002.json'))
    expect_error(capsys, src, tmp_path / 'out', message)


def test_shapes_outside_the_image_are_clipped_or_dropped_with_warnings(
        tmp_path, capsys):
    src, out = tmp_path / 'src', tmp_path / 'out'
    frame(src / 'vid', '0001', [
        shape('cat', [[17, 12], [25, 30]], 'rectangle', group_id=0),
        shape('cat', [[30, 30], [40, 30], [40, 40]], group_id=1),
        shape('dog', [[2, 2], [5, 5]], 'rectangle'),
    ])
    frame(src / 'vid', '0002', [
        shape('cat', [[-5, -5], [-1, -1]], 'rectangle', group_id=1)])
    conversion = read_labelme(str(src))
    json1 = str(src / 'vid' / '0001.json')
    json2 = str(src / 'vid' / '0002.json')
    assert conversion['warnings'] == [
        f"{json1} shape 0 (label 'cat') rectangle: partly outside the image "
        f"(x 17..25, y 12..30 outside the 20x16 image); clipped",
        f"{json1} shape 1 (label 'cat') polygon: entirely outside the image "
        f"(x 30..40, y 30..40 outside the 20x16 image); contributes nothing",
        f"{json2} shape 0 (label 'cat') rectangle: entirely outside the "
        f"image (x -5..-1, y -5..-1 outside the 20x16 image); contributes "
        f"nothing"]
    clipped, outside, dog = conversion['videos'][0]['instances']
    np.testing.assert_array_equal(decode(clipped['segmentations'][0]),
                                  box(17, 12, 20, 16))
    assert clipped['segmentations'][1] is None
    assert outside['segmentations'] == [None, None]
    assert convert(src, out) == 0
    printed = capsys.readouterr().out
    assert 'warnings (3):' in printed and 'clipped' in printed
    assert '1  instance with no mask in any frame' in printed
    assert len(load(out)['annotations']) == 2


def test_a_label_missing_from_categories_names_video_json_and_group(
        tmp_path, capsys):
    src = tmp_path / 'src'
    frame(src / 'vid', '0001', [shape('dog', [[0, 0], [2, 2]], 'rectangle')])
    frame(src / 'vid', '0002', [shape('dog', [[0, 0], [2, 2]], 'rectangle')])
    frame(src / 'vid', '0003', [
        shape('cat', [[0, 0], [2, 2]], 'rectangle', group_id=2)])
    frame(src / 'vid', '0004', [
        shape('cat', [[0, 0], [2, 2]], 'rectangle', group_id=2)])
    err = expect_error(capsys, src, tmp_path / 'out',
                       osp.join('src', 'vid', '0003.json') + ' label "cat" '
                       "group 2: label 'cat' is not among the categories",
                       '--categories', 'dog,bird')
    assert 'add it to --categories' in err


def test_non_empty_out_root_is_refused_without_overwrite(tmp_path, capsys):
    src, out = tmp_path / 'src', tmp_path / 'out'
    frame(src / 'vid', '0001', [shape('cat', [[0, 0], [2, 2]], 'rectangle')])
    out.mkdir()
    (out / 'keep.txt').write_text('mine')
    assert convert(src, out) == 2
    assert 'is not empty; pass --overwrite' in capsys.readouterr().err
    assert os.listdir(out) == ['keep.txt']
    # a failed conversion with --overwrite leaves it untouched too
    write_json(src / 'vid' / '0002.json', [], image_path='gone.png')
    assert convert(src, out, '--overwrite') == 2
    assert os.listdir(out) == ['keep.txt']
    os.remove(src / 'vid' / '0002.json')
    assert convert(src, out, '--overwrite') == 0
    assert sorted(os.listdir(out)) == ['categories.txt', 'train', 'train.json']


# ------------------------------------------------------------- round trip
CATEGORIES = 'disc,box,triangle,ring,cross'


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    """A tiny synthetic set exported as labelme folders (every 4th frame
    embedded), and its conversion back."""
    from vis.datasets.synthetic import make_synthetic_ytvis
    root = tmp_path_factory.mktemp('labelme_round_trip')
    make_synthetic_ytvis(str(root / 'orig'), num_train=4, num_valid=0,
                         num_frames=5, height=64, width=96, seed=3,
                         max_objects=3)
    exported = export_labelme(str(root / 'orig' / 'train.json'),
                              str(root / 'orig' / 'train' / 'JPEGImages'),
                              str(root / 'src'), embed_every=4)
    assert labelme2ytvis.main([str(root / 'src'), str(root / 'out'),
                               '--categories', CATEGORIES,
                               '--no-progress']) == 0
    return root, exported


def test_exporter_writes_one_labelme_folder_per_video(synthetic):
    root, exported = synthetic
    assert exported['videos'] == {f'train_{i:05d}': 5 for i in range(1, 5)}
    assert exported['embedded'] == [(f'train_{i:05d}', '00015.jpg')
                                    for i in range(1, 5)]
    folder = root / 'src' / 'train_00001'
    assert sorted(os.listdir(folder)) == [
        '00000.jpg', '00000.json', '00005.jpg', '00005.json', '00010.jpg',
        '00010.json', '00015.json', '00020.jpg', '00020.json']
    with open(folder / '00015.json') as f:
        embedded = json.load(f)
    original = root / 'orig' / 'train' / 'JPEGImages' / 'train_00001'
    assert base64.b64decode(embedded['imageData']) == \
        (original / '00015.jpg').read_bytes()
    assert exported['shapes'] > 0


def test_mask_to_polygons_traces_holes_and_parts():
    ring = np.zeros((12, 12), np.uint8)
    ring[2:10, 2:10] = 1
    ring[4:8, 4:8] = 0
    ring[0, 11] = 1                            # a second, 1-pixel part
    polygons = mask_to_polygons(ring)
    assert len(polygons) == 2
    back = np.zeros_like(ring)
    for polygon in polygons:
        rle = mask_utils.frPyObjects([np.ravel(polygon).tolist()], 12, 12)
        back |= mask_utils.decode(rle)[:, :, 0]
    np.testing.assert_array_equal(back, ring)
    assert mask_to_polygons(np.zeros((5, 5), np.uint8)) == []


def test_round_trip_keeps_categories_videos_frames_and_masks(synthetic):
    root, _ = synthetic
    with open(root / 'orig' / 'train.json') as f:
        original = json.load(f)
    converted = load(root / 'out')
    assert [(c['id'], c['name']) for c in converted['categories']] == \
        [(c['id'], c['name']) for c in original['categories']]
    assert [v['file_names'] for v in converted['videos']] == \
        [v['file_names'] for v in original['videos']]
    assert len(converted['annotations']) == len(original['annotations'])
    compared = 0
    for video, video_out in zip(original['videos'], converted['videos']):
        height, width = video['height'], video['width']
        assert (video_out['height'], video_out['width']) == (height, width)
        anns = [a for a in original['annotations']
                if a['video_id'] == video['id']]
        # converted instances come in order of first appearance (frame,
        # then group_id = index of the annotation in its video)
        anns.sort(key=lambda a: next(
            t for t, s in enumerate(a['segmentations']) if s is not None))
        anns_out = [a for a in converted['annotations']
                    if a['video_id'] == video_out['id']]
        assert len(anns_out) == len(anns)
        for ann, ann_out in zip(anns, anns_out):
            assert ann_out['category_id'] == ann['category_id']
            assert [s is None for s in ann_out['segmentations']] == \
                [s is None for s in ann['segmentations']]
            for seg, seg_out in zip(ann['segmentations'],
                                    ann_out['segmentations']):
                if seg is None:
                    continue
                mask = decode_segmentation(seg, height, width)
                mask_out = decode(seg_out)
                if mask.sum() < 30:
                    continue
                # tolerance: the polygon rasterisation of a traced contour
                # (here exact, but pycocotools samples slanted edges)
                iou = (mask & mask_out).sum() / (mask | mask_out).sum()
                assert iou >= 0.8, (video['file_names'][0], iou)
                compared += 1
    assert compared >= 20


def test_round_trip_frames_are_the_same_bytes(synthetic):
    root, exported = synthetic
    original = root / 'orig' / 'train' / 'JPEGImages'
    written = root / 'out' / 'train' / 'JPEGImages'
    for video, count in exported['videos'].items():
        names = sorted(os.listdir(written / video))
        assert len(names) == count
        for name in names:
            assert (written / video / name).read_bytes() == \
                (original / video / name).read_bytes()


def test_round_trip_output_passes_check_dataset(synthetic):
    root, _ = synthetic
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'check_dataset.py'),
         str(root / 'out')], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_valid_fraction_holds_out_whole_videos_reproducibly(synthetic,
                                                           tmp_path):
    root, exported = synthetic
    splits = []
    for run in ('a', 'b'):
        out = tmp_path / run
        assert convert(root / 'src', out, '--categories', CATEGORIES,
                       '--valid-fraction', 0.5, '--seed', 1) == 0
        train, valid = load(out, 'train'), load(out, 'valid')
        splits.append(([v['file_names'] for v in train['videos']],
                       [v['file_names'] for v in valid['videos']]))
        assert len(train['videos']) == len(valid['videos']) == 2
        for ann, split in ((train, 'train'), (valid, 'valid')):
            for video in ann['videos']:
                name = video['file_names'][0].split('/')[0]
                assert len(video['file_names']) == exported['videos'][name]
                assert sorted(os.listdir(out / split / 'JPEGImages' / name)) \
                    == sorted(osp.basename(n) for n in video['file_names'])
    assert splits[0] == splits[1]
    names = {fs[0].split('/')[0] for part in splits[0] for fs in part}
    assert names == set(exported['videos'])


@pytest.mark.parametrize('link', ['hardlink', 'symlink'])
def test_link_modes(synthetic, tmp_path, link):
    root, _ = synthetic
    out = tmp_path / 'out'
    assert convert(root / 'src', out, '--categories', CATEGORIES,
                   '--link', link) == 0
    source = root / 'src' / 'train_00001' / '00000.jpg'
    target = out / 'train' / 'JPEGImages' / 'train_00001' / '00000.jpg'
    if link == 'hardlink':
        assert not osp.islink(target) and osp.samefile(source, target)
    else:
        assert osp.islink(target)
        assert os.readlink(target) == osp.abspath(str(source))
    # an embedded frame has no file to link: it is written
    embedded = out / 'train' / 'JPEGImages' / 'train_00001' / '00015.jpg'
    assert osp.isfile(embedded) and not osp.islink(embedded)


# ----------------------------------------------------------- as a script
def test_cli_runs_as_a_script(tmp_path):
    result = subprocess.run([sys.executable, TOOL, '--help'],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'SRC' in result.stdout and '--categories' in result.stdout
    assert '--valid-fraction' in result.stdout
    src, out = tmp_path / 'src', tmp_path / 'out'
    frame(src / 'vid', '0001', [shape('cat', [[0, 0], [3, 3]], 'rectangle')])
    frame(src / 'vid', '0002', [shape('cat', [[1, 1], [4, 4]], 'rectangle')])
    result = subprocess.run([sys.executable, TOOL, str(src), str(out),
                             '--no-progress'], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'wrote' in result.stdout
    ann = load(out)
    assert [c['name'] for c in ann['categories']] == ['cat']
    assert ann['videos'][0]['file_names'] == ['vid/0001.png', 'vid/0002.png']
    result = subprocess.run([sys.executable, TOOL, str(src), str(out)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert 'error: OUT_ROOT' in result.stderr
