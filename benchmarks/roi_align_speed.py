"""The native multi-level RoIAlign against mmcv's, as ratios.

    python benchmarks/roi_align_speed.py [--repeats 10] [--threads 1]

Workload of one 640x360 frame of MaskTrack R-CNN (input padded to 640x384,
FPN levels at strides 4-32, 256 channels): the box head's 200 proposals at
7x7, the mask head's 100 detections at 14x14 and the track head's 100 at
7x7, adaptive sampling (``sampling_ratio=0``), ``aligned=True``; boxes of
all sizes. mmcv: mmdet's ``SingleRoIExtractor`` (levels assigned, mmcv's
``roi_align`` level by level on contiguous maps, the results scattered into
one tensor); ours: ``ChannelsLastRoIExtractor`` at inference (the same
levels, one ``vis.ops.multilevel_roi_align`` call on channels-last maps;
channels-last output for the mask head). Alternating, process CPU time,
medians; every repeat asserts that the outputs are bit-identical.
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    import vis  # noqa: F401  (registers ChannelsLastRoIExtractor)
    torch.set_num_threads(args.threads)

    def extractor(kind, size, **kwargs):
        return MODELS.build(dict(
            type=kind, roi_layer=dict(type='RoIAlign', output_size=size,
                                      sampling_ratio=0),
            out_channels=256, featmap_strides=list(STRIDES), **kwargs))

    gen = torch.Generator().manual_seed(0)
    maps = [torch.randn(1, 256, 384 // s, 640 // s, generator=gen)
            for s in STRIDES]
    maps_cl = [m.contiguous(memory_format=torch.channels_last) for m in maps]
    # (RoIs, mmdet's extractor, ours) of the box, mask and track heads
    calls = [(workload(gen, num), extractor('SingleRoIExtractor', size),
              extractor('ChannelsLastRoIExtractor', size,
                        channels_last_output=cl))
             for num, size, cl in ((200, 7, False), (100, 14, True),
                                   (100, 7, False))]

    def ours():
        return [mine(maps_cl, rois) for rois, _, mine in calls]

    def theirs():
        return [mmdet(maps, rois) for rois, mmdet, _ in calls]

    times = {'mmcv': [], 'ours': []}
    with torch.no_grad():
        assert all(mine.uses_native(maps_cl, rois)
                   for rois, _, mine in calls)
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
