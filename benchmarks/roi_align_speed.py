"""The native multi-level RoIAlign against mmcv's, as ratios.

    python benchmarks/roi_align_speed.py [--repeats 10] [--threads 1]

Workload of one 640x360 frame of MaskTrack R-CNN (input padded to 640x384,
FPN levels at strides 4-32, 256 channels): the box head's 200 proposals at
7x7, the mask head's 100 detections at 14x14 and the track head's 100 at
7x7, adaptive sampling (``sampling_ratio=0``), ``aligned=True``; boxes of
all sizes, assigned to levels as mmdet's ``SingleRoIExtractor`` does. mmcv:
its ``roi_align`` level by level on contiguous maps, the results scattered
into one tensor (what ``SingleRoIExtractor`` does); ours: one
``vis.ops.multilevel_roi_align`` call on channels-last maps (what
``ChannelsLastRoIExtractor`` does at inference). Alternating, process CPU
time, medians; every repeat asserts that the outputs are bit-identical.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

STRIDES = (4, 8, 16, 32)


def workload(gen, num, width=640, height=384):
    """(num, 5) boxes in one image, side 8-400 px (log-uniform)."""
    import torch
    side = torch.exp(torch.empty(num, 2).uniform_(2.08, 5.99, generator=gen))
    xy = torch.rand(num, 2, generator=gen) * torch.tensor([width, height])
    boxes = torch.cat([xy, xy + side], 1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    return torch.cat([torch.zeros(num, 1), boxes], 1)


def levels_of(rois, finest_scale=56):
    """mmdet's ``SingleRoIExtractor.map_roi_levels``."""
    import torch
    scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    return torch.floor(torch.log2(scale / finest_scale + 1e-6)).clamp(
        0, len(STRIDES) - 1).long()


def mmcv_extract(maps, rois, levels, size):
    from mmcv.ops import roi_align
    out = maps[0].new_zeros(len(rois), maps[0].shape[1], size, size)
    for lvl, stride in enumerate(STRIDES):
        inds = (levels == lvl).nonzero()[:, 0]
        if len(inds):
            out[inds] = roi_align(maps[lvl], rois[inds], size, 1.0 / stride,
                                  0, 'avg', True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    import torch
    from vis.ops import multilevel_roi_align
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    maps = [torch.randn(1, 256, 384 // s, 640 // s, generator=gen)
            for s in STRIDES]
    maps_cl = [m.contiguous(memory_format=torch.channels_last) for m in maps]
    calls = [(workload(gen, 200), 7, False), (workload(gen, 100), 14, True),
             (workload(gen, 100), 7, False)]
    calls = [(rois, levels_of(rois), size, cl) for rois, size, cl in calls]
    scales = [1.0 / s for s in STRIDES]

    def ours():
        return [multilevel_roi_align(maps_cl, rois, levels, size, scales,
                                     0, True, cl)
                for rois, levels, size, cl in calls]

    def theirs():
        return [mmcv_extract(maps, rois, levels, size)
                for rois, levels, size, _ in calls]

    times = {'mmcv': [], 'ours': []}
    for _ in range(args.repeats + 1):  # the first round warms up
        results = {}
        for name, fn in (('mmcv', theirs), ('ours', ours)):
            start = time.process_time()
            results[name] = fn()
            times[name].append(time.process_time() - start)
        for a, b in zip(results['mmcv'], results['ours']):
            assert torch.equal(a, b), 'outputs differ'
    med = {name: statistics.median(t[1:]) for name, t in times.items()}
    print(f'torch {torch.__version__}, {args.threads} thread(s); one frame: '
          '200 RoIs 7x7 + 100 RoIs 14x14 + 100 RoIs 7x7, 256 channels')
    print(f'mmcv {med["mmcv"] * 1e3:.1f} ms, ours {med["ours"] * 1e3:.1f} '
          f'ms, ratio mmcv/ours {med["mmcv"] / med["ours"]:.1f} '
          '(outputs bit-identical)')


if __name__ == '__main__':
    main()
