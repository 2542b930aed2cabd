"""Device safety: the tracker, the TRoI feature memory and the mask
post-processing make their tensors on their inputs' device.

Without a GPU the checks run on the ``meta`` device (tensors with shapes and
no values), which catches every tensor made on the CPU by default and mixed
with an input: a frame that needs no tensor value (an empty memory, no
detections) must run there. Frames that need values (matching) run on the
CPU. The tests marked ``gpu`` compare CUDA with CPU and are skipped where
CUDA is not available (tools/gpu_check.sh runs them on a GPU machine).
"""
import math
import os
import os.path as osp
import zipfile

import numpy as np
import pytest
import torch
from torch import Tensor

from vis.models import EmbeddingMemory, EmbeddingMemoryTracker, FeatureMemory
from vis.ops.mask_paste import bilinear_weights

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
META = torch.device('meta')
NORM = 1 / math.sqrt(0.1)  # embedding norm of CosineRoIEmbedHead, T = 0.1


def detections(num, dim=8, device=META, dtype=torch.float32):
    """(embeds (K, D), bboxes (K, 4), labels (K,), scores (K,)) on
    ``device``; values unset (meta) or arbitrary."""
    return (torch.empty(num, dim, device=device, dtype=dtype),
            torch.empty(num, 4, device=device, dtype=dtype),
            torch.empty(num, dtype=torch.long, device=device),
            torch.empty(num, device=device, dtype=dtype))


def memory_tensors(memory):
    """Every tensor an EmbeddingMemory holds, by attribute name."""
    return {name: value for name, value in vars(memory).items()
            if isinstance(value, Tensor)}


def assert_memory_on(memory, device):
    tensors = memory_tensors(memory)
    assert set(tensors) == {'ids', 'embeds', 'bboxes', 'labels',
                            'last_frame'}
    for name, tensor in tensors.items():
        assert tensor.device == torch.device(device), name
        assert tensor.shape[0] == len(memory), name


# ------------------------------------------------------------ the tracker
def test_first_frame_on_meta_starts_every_track_from_shapes_alone():
    tracker = EmbeddingMemoryTracker(num_frames_retain=2)
    ids = tracker.update(0, *detections(3))
    assert ids.device == META and ids.shape == (3, )
    assert ids.dtype == torch.long
    assert tracker.num_tracks == 3 and len(tracker.memory) == 3
    assert_memory_on(tracker.memory, META)
    assert tracker.memory.embeds.shape == (3, 8)
    assert tracker.memory.bboxes.shape == (3, 4)
    assert tracker.memory.last_frame_host.tolist() == [0, 0, 0]


def test_memory_tensors_share_the_input_device_after_frames_1_to_3():
    # meta: frames whose outcome needs no value (no detections; every
    # track expired, so every detection starts a track)
    tracker = EmbeddingMemoryTracker(num_frames_retain=1)
    expected_sizes = {0: 3, 1: 3, 2: 2, 3: 2}
    for frame, num in ((0, 3), (1, 0), (2, 2), (3, 0)):
        ids = tracker.update(frame, *detections(num))
        assert ids.device == META and ids.shape == (num, ), frame
        assert len(tracker.memory) == expected_sizes[frame], frame
        assert_memory_on(tracker.memory, META)
    assert tracker.num_tracks == 5
    # cpu, where matching reads the scores: the same objects keep their ids
    # and the memory stays on the input's device and dtype
    tracker = EmbeddingMemoryTracker(num_frames_retain=3)
    a, b, c = torch.eye(3, 8, dtype=torch.float64) * NORM  # (8,) each
    box_a = torch.tensor([0., 0., 10., 10.], dtype=torch.float64)
    box_b = torch.tensor([40., 40., 50., 50.], dtype=torch.float64)
    box_c = torch.tensor([20., 0., 30., 10.], dtype=torch.float64)
    frames = [([a, b], [box_a, box_b], [0, 1]),
              ([b, a], [box_b, box_a], [1, 0]),
              ([a, c], [box_a, box_c], [0, 2]),
              ([c, b], [box_c, box_b], [2, 1])]
    got = []
    for frame, (embeds, boxes, labels) in enumerate(frames):
        ids = tracker.update(frame, torch.stack(embeds), torch.stack(boxes),
                             torch.tensor(labels),
                             torch.full((len(labels), ), 0.9,
                                        dtype=torch.float64))
        got.append(ids.tolist())
        assert_memory_on(tracker.memory, 'cpu')
        assert tracker.memory.embeds.dtype == torch.float64
    assert got == [[0, 1], [1, 0], [0, 2], [2, 1]]


def test_a_frame_on_another_device_is_refused_naming_field_and_frame():
    tracker = EmbeddingMemoryTracker()
    tracker.update(0, *detections(2))
    with pytest.raises(ValueError, match=r'frame 1: bboxes are on cpu.*meta'):
        tracker.update(1, *detections(2, device='cpu'))
    # after a reset the next frame picks the device again
    tracker.reset()
    assert memory_tensors(tracker.memory) == {}
    ids = tracker.update(0, *detections(2, device='cpu'))
    assert ids.tolist() == [0, 1]
    assert_memory_on(tracker.memory, 'cpu')


def test_an_empty_memory_holds_no_tensor_until_the_first_append():
    memory = EmbeddingMemory()
    assert memory_tensors(memory) == {} and memory.device is None
    embeds, bboxes, labels, _ = detections(4)
    ids = torch.empty(4, dtype=torch.long, device=META)
    memory.append(ids, embeds, bboxes, labels, frame_id=7)
    assert memory.device == META and len(memory) == 4
    assert_memory_on(memory, META)
    # appending more keeps the device; expiring reads only host frames
    memory.append(ids[:1], embeds[:1], bboxes[:1], labels[:1], frame_id=9)
    assert memory.expire(frame_id=10, num_frames_retain=2) == 4
    assert len(memory) == 1 and memory.last_frame_host.tolist() == [9]
    assert_memory_on(memory, META)


# --------------------------------------------------- TRoI feature memory
def frame_feats(device=META, dtype=torch.float32, size=8):
    """One frame's FPN levels: (1, C=4, H_l, W_l) for strides 1 and 2."""
    return (torch.empty(1, 4, size, size, device=device, dtype=dtype),
            torch.empty(1, 4, size // 2, size // 2, device=device,
                        dtype=dtype))


def test_feature_memory_keeps_frames_on_their_device_and_refuses_others():
    memory = FeatureMemory(2)
    for _ in range(3):
        memory.push(frame_feats())
    support = memory.support()  # level l: (1, T, C, H_l, W_l)
    assert [s.shape for s in support] == [(1, 2, 4, 8, 8), (1, 2, 4, 4, 4)]
    assert all(s.device == META for s in support)
    with pytest.raises(ValueError, match=r'level 0 .* on cpu.*on meta'):
        memory.push(frame_feats(device='cpu'))
    with pytest.raises(ValueError, match=r'level 0 .*float64'):
        memory.push(frame_feats(dtype=torch.float64))
    with pytest.raises(ValueError, match=r'level 0 is \(1, 4, 16, 16\)'):
        memory.push(frame_feats(size=16))
    with pytest.raises(ValueError, match=r'level 1 must be \(1, C, H, W\)'):
        memory.push((frame_feats()[0], torch.empty(2, 4, 4, 4, device=META)))
    assert len(memory) == 2  # nothing refused was remembered
    memory.reset()
    memory.push(frame_feats(device='cpu'))  # a new video picks again
    assert memory.support()[0].device.type == 'cpu'


# ------------------------------------------------------- post-processing
def test_mask_paste_weights_are_made_on_the_boxes_device():
    start = torch.empty(3, device=META)
    lo = torch.empty(3, dtype=torch.long, device=META)
    weights = bilinear_weights(start, start, lo, lo, length=5, grid=28)
    assert weights.device == META and weights.shape == (3, 5, 28)


# --------------------------------------------------- CUDA against the CPU
def tracked_frames(num_frames=6, seed=0):
    """Detections of a scene where objects move, vanish and appear:
    per frame (embeds (K, 8), bboxes (K, 4), labels (K,), scores (K,))."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(5, 8, generator=g)  # (objects, D)
    boxes = torch.rand(5, 2, generator=g) * 200  # (objects, x/y)
    frames = []
    for t in range(num_frames):
        present = [o for o in range(5) if (o + t) % 4 != 0]  # some vanish
        embeds = centres[present] + 0.05 * torch.randn(
            len(present), 8, generator=g)  # (K, D)
        embeds = torch.nn.functional.normalize(embeds, dim=1) * NORM
        xy = boxes[present] + 3 * t  # (K, 2)
        bboxes = torch.cat([xy, xy + 30], dim=1)  # (K, 4) x1, y1, x2, y2
        labels = torch.tensor(present) % 3
        scores = 0.5 + 0.5 * torch.rand(len(present), generator=g)
        frames.append((embeds, bboxes, labels, scores))
    return frames


@pytest.mark.gpu
def test_tracker_on_cuda_gives_the_cpu_ids():
    cpu, cuda = (EmbeddingMemoryTracker(num_frames_retain=2)
                 for _ in range(2))
    for t, dets in enumerate(tracked_frames()):
        want = cpu.update(t, *dets)
        got = cuda.update(t, *(x.cuda() for x in dets))
        assert got.device.type == 'cuda'
        assert got.tolist() == want.tolist(), t
        assert_memory_on(cuda.memory, got.device)
    assert cuda.num_tracks == cpu.num_tracks


def build_model(tiny_ytvis, temporal):
    """configs/ci_tiny.py's model (TRoI on both RoI branches when
    ``temporal``), random weights (seed 0)."""
    from mmengine.config import Config
    from mmdet.registry import MODELS
    from vis.config_utils import apply_data_root
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    if temporal:
        roi = dict(type='TemporalRoIExtractor', temporal=dict(num_heads=4))
        cfg.merge_from_dict(dict(model=dict(
            type='TemporalMaskTrackRCNN', memory_size=2,
            detector=dict(roi_head=dict(bbox_roi_extractor=roi,
                                        mask_roi_extractor=roi)))))
    apply_data_root(cfg, tiny_ytvis)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model.eval()


def predict_video(model, video):
    """Per frame: (bboxes (K, 4), scores (K,), ids (K,)) as host arrays."""
    from mmengine.dataset import pseudo_collate
    with torch.no_grad():
        out = model.test_step(pseudo_collate([video]))[0]
    frames = []
    for frame in out.video_data_samples:
        pred = frame.pred_track_instances
        frames.append((pred.bboxes.float().cpu().numpy(),
                       pred.scores.float().cpu().numpy(),
                       pred.instances_id.cpu().numpy()))
    return frames


def box_iou(a, b):
    """(A, B) IoU of (A, 4) and (B, 4) host boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])  # (A, B, 2)
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)  # (A, B)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter + 1e-9)


def assert_same_tracks(cpu_frames, cuda_frames):
    """The CUDA run detects what the CPU run does (boxes matched by IoU
    > 0.95, scores within 1e-3) and links the matched detections into the
    same tracks: identical ids when every detection matched, else (a
    near-tie detection flipped and shifted the numbering) one consistent
    one-to-one renaming of the ids."""
    matched = total = 0
    cpu_to_cuda, cuda_to_cpu = {}, {}
    for t, ((cb, cs, ci), (gb, gs, gi)) in enumerate(zip(cpu_frames,
                                                         cuda_frames)):
        total += max(len(ci), len(gi))
        iou = box_iou(cb, gb) if len(cb) and len(gb) else np.zeros((0, 0))
        for k in np.argsort(-cs, kind='stable'):  # best CPU score first
            if not iou.shape[1]:
                break
            j = int(np.argmax(iou[k]))
            if iou[k, j] > 0.95 and abs(cs[k] - gs[j]) < 1e-3:
                iou[:, j] = -1  # CUDA detection j is taken
                matched += 1
                a, b = int(ci[k]), int(gi[j])
                assert cpu_to_cuda.setdefault(a, b) == b, (t, a, b)
                assert cuda_to_cpu.setdefault(b, a) == a, (t, a, b)
    assert total > 0, 'nothing detected: the comparison is vacuous'
    assert matched >= 0.9 * total, f'{matched} of {total} detections matched'
    if matched == total:
        for (_, _, ci), (_, _, gi) in zip(cpu_frames, cuda_frames):
            assert sorted(ci.tolist()) == sorted(gi.tolist())


@pytest.mark.gpu
@pytest.mark.parametrize('temporal', [False, True],
                         ids=['OnlineMaskTrackRCNN', 'TemporalMaskTrackRCNN'])
def test_model_predict_on_cuda_gives_the_cpu_track_ids(tiny_ytvis, temporal):
    from mmdet.registry import DATASETS
    cfg, model = build_model(tiny_ytvis, temporal)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    for v in range(len(dataset)):
        video = dataset[v]
        model.cpu()
        want = predict_video(model, video)
        model.cuda()
        got = predict_video(model, video)
        assert_same_tracks(want, got)
        assert_memory_on(model.tracker.memory,
                         next(model.parameters()).device)
        if temporal:
            held = model.feature_memory.support()
            assert held is not None and all(s.is_cuda for s in held)


@pytest.mark.gpu
def test_temporal_roi_align_on_cuda_matches_cpu():
    from vis.ops import TemporalRoIAlign
    torch.manual_seed(0)
    op = TemporalRoIAlign(in_channels=16, topk=2, num_heads=4)
    g = torch.Generator().manual_seed(1)
    rois = torch.randn(5, 16, 7, 7, generator=g)  # (K, C, S, S)
    support = torch.randn(3, 16, 12, 20, generator=g)  # (T, C, H, W)
    outs, grads = [], []
    for device in ('cpu', 'cuda'):
        op.to(device).zero_grad()
        r = rois.to(device).requires_grad_()
        s = support.to(device).requires_grad_()
        out = op(r, s)
        assert out.device.type == device
        out.square().sum().backward()
        outs.append(out.detach().cpu())
        grads.append([r.grad.cpu(), s.grad.cpu()] +
                     [p.grad.cpu() for p in op.parameters()])
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-4, atol=1e-5)
    for want, got in zip(grads[0], grads[1]):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-4)


@pytest.mark.gpu
def test_mask_paste_weights_on_cuda_match_cpu():
    boxes = torch.tensor([[3.2, 1.5, 40.7, 30.1], [0.0, 0.0, 5.0, 9.0]])
    lo = boxes[:, 0].floor().long()
    hi = boxes[:, 2].ceil().long() + 1
    want = bilinear_weights(boxes[:, 0], boxes[:, 2], lo, hi, 40, 28)
    got = bilinear_weights(boxes[:, 0].cuda(), boxes[:, 2].cuda(), lo.cuda(),
                           hi.cuda(), 40, 28)
    assert got.is_cuda
    torch.testing.assert_close(got.cpu(), want)


# ------------------------------------------------ benchmarks/gpu_check.py
def gpu_check_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'gpu_check', osp.join(ROOT, 'benchmarks', 'gpu_check.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports no GPU code, nor mmdet
    return module


def fake_wheel(folder, name, version, requires=()):
    """A wheel holding only its METADATA."""
    path = osp.join(folder, f'{name}-{version}-py3-none-any.whl')
    meta = ''.join([f'Name: {name}\n', f'Version: {version}\n']
                   + [f'Requires-Dist: {r}\n' for r in requires])
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr(f'{name}-{version}.dist-info/METADATA', meta)
    return path


def test_gpu_check_wheel_folder_check_finds_what_the_device_lacks(
        tmp_path, capsys):
    gpu_check = gpu_check_module()
    folder = str(tmp_path)
    for name in ('mmcv', 'pycocotools'):
        fake_wheel(folder, name, '2.1.0')
    fake_wheel(folder, 'mmdet', '3.3.0', ['numpy', 'shapely',
                                          'pywin32; sys_platform == "win32"',
                                          'pytest-cov; extra == "tests"'])
    fake_wheel(folder, 'mmengine', '0.10.7', ['addict', 'yapf>=0.30'])
    fake_wheel(folder, 'addict', '2.4.0')
    fake_wheel(folder, 'yapf', '0.20.0')
    assert gpu_check.check_wheels(folder) == 1
    out = capsys.readouterr().out
    # numpy is on the device; win32 and extra requirements do not count
    assert 'mmdet 3.3.0 needs shapely: neither in' in out
    assert 'mmengine 0.10.7 needs yapf>=0.30' in out
    assert 'numpy' not in out.split('problem')[1] and 'pywin32' not in out
    fake_wheel(folder, 'shapely', '2.1.2')
    os.remove(osp.join(folder, 'yapf-0.20.0-py3-none-any.whl'))
    fake_wheel(folder, 'yapf', '0.43.0')
    assert gpu_check.check_wheels(folder) == 0
    assert 'complete' in capsys.readouterr().out


def test_gpu_check_configs_lose_every_pretrained_init():
    from mmengine.config import Config
    gpu_check = gpu_check_module()
    raw = Config.fromfile(osp.join(ROOT, 'configs', 'masktrack_x101_troi.py'))
    assert raw.model.detector.init_cfg.type == 'DetectorCheckpointInit'
    assert raw.model.detector.init_cfg.checkpoint.endswith(
        'mask_rcnn_x101_64x4d_fpn_1x_coco_20200201-9352eb0d.pth')
    cfg = gpu_check.load_config('configs/masktrack_x101_troi.py', (160, 96))
    assert 'Pretrained' not in cfg.pretty_text and cfg.load_from is None
    assert 'DetectorCheckpointInit' not in cfg.pretty_text
    assert cfg.model.detector.backbone.depth == 101
    resizes = [t for t in cfg.train_dataloader.dataset.pipeline[1].transforms
               if t.type == 'Resize']
    assert [tuple(t.scale) for t in resizes] == [(160, 96)]
