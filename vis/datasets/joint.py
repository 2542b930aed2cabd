"""Train on several sources at once (a video set and an image set) at a
stated sampling ratio.

mmdet's ``TrackImgSampler`` yields ``(video index, frame index)`` pairs,
which mmengine's ``ConcatDataset`` cannot index. :class:`JointVideoDataset`
concatenates video datasets under one *global* video index (what
``TrackAspectRatioBatchSampler`` reads through ``get_data_info``) and
:class:`JointTrackImgSampler` draws each epoch's frames from the sources in
proportion to ``source_ratio``.
"""
import math
import random
from typing import Iterator, List, Sequence, Tuple

from mmengine.dataset import ConcatDataset
from mmengine.dist import get_dist_info, sync_random_seed
from mmdet.datasets.samplers import TrackImgSampler
from mmdet.registry import DATA_SAMPLERS, DATASETS


@DATASETS.register_module()
class JointVideoDataset(ConcatDataset):
    """Video datasets concatenated under one video index.

    ``dataset[(video_idx, frame_idx)]`` is frame ``frame_idx`` of global
    video ``video_idx`` (the videos of ``datasets[0]`` first, then those of
    ``datasets[1]``, ...). Every source must have the same ``classes``
    (a :class:`ClassMappedYouTubeVISDataset` maps an image set's categories
    onto the video set's); the first source is the one ``--data-root``
    points at.

    Args:
        datasets (list[dict | BaseVideoDataset]): the sources, built from
            their configs if needed.
        lazy_init (bool): as for mmengine's ``ConcatDataset``.
    """

    def __init__(self, datasets: Sequence, lazy_init: bool = False):
        built = [DATASETS.build(d) if isinstance(d, dict) else d
                 for d in datasets]
        if not built:
            raise ValueError('JointVideoDataset needs at least one source')
        first = tuple(built[0].metainfo.get('classes') or ())
        for index, dataset in enumerate(built[1:], start=1):
            classes = tuple(dataset.metainfo.get('classes') or ())
            if classes != first:
                raise ValueError(
                    f'JointVideoDataset: source {index} '
                    f"({getattr(dataset, 'ann_file', '?')}) has the classes "
                    f'{list(classes)}, source 0 '
                    f"({getattr(built[0], 'ann_file', '?')}) has "
                    f'{list(first)}; map them onto one list (e.g. '
                    f'ClassMappedYouTubeVISDataset with a class map)')
        other_keys = sorted({k for d in built for k in d.metainfo}
                            - {'classes'})
        super().__init__(built, lazy_init=lazy_init, ignore_keys=other_keys)

    @property
    def test_mode(self) -> bool:
        return any(d.test_mode for d in self.datasets)

    def source_of(self, video_idx: int) -> Tuple[int, int]:
        """``(source index, video index within it)`` of a global video."""
        return self._get_ori_dataset_idx(video_idx)

    def get_len_per_video(self, video_idx: int) -> int:
        source, local = self.source_of(video_idx)
        return self.datasets[source].get_len_per_video(local)

    def __getitem__(self, index):
        if not isinstance(index, tuple):
            raise TypeError('JointVideoDataset is indexed by (video index, '
                            'frame index); sample it with '
                            'JointTrackImgSampler')
        video_idx, frame_idx = index
        source, local = self.source_of(video_idx)
        return self.datasets[source][(local, frame_idx)]


@DATA_SAMPLERS.register_module()
class JointTrackImgSampler(TrackImgSampler):
    """Frames of a :class:`JointVideoDataset`, sources mixed at a ratio.

    An epoch holds every (annotated, kept) frame of source 0 once and, for
    source ``i``, ``round(N0 * source_ratio[i] / source_ratio[0])`` frames
    drawn without replacement (reshuffled each epoch; a source with fewer
    frames is cycled), all shuffled together, then split over the processes
    like mmdet's ``TrackImgSampler``. ``source_ratio=(2, 1)`` gives one
    image for every two video frames. It subclasses ``TrackImgSampler``
    (so that ``TrackAspectRatioBatchSampler`` reads its (video, frame)
    pairs) but builds its own index list: the parent's would index each
    source from 0.

    Args:
        dataset (JointVideoDataset): the sources.
        source_ratio (sequence[float]): relative share of each source; the
            first must be > 0.
        seed (int, optional): shuffling seed (synced over processes).
    """

    def __init__(self, dataset: JointVideoDataset,
                 source_ratio: Sequence[float] = (1, 1), seed=None):
        # no super().__init__(): it would index each source from 0
        if not isinstance(dataset, JointVideoDataset):
            raise TypeError('JointTrackImgSampler samples a JointVideoDataset'
                            f', got {type(dataset).__name__}')
        if len(source_ratio) != len(dataset.datasets):
            raise ValueError(
                f'source_ratio {list(source_ratio)} has {len(source_ratio)} '
                f'entries for {len(dataset.datasets)} sources')
        if source_ratio[0] <= 0 or any(r < 0 for r in source_ratio):
            raise ValueError(f'source_ratio {list(source_ratio)}: the first '
                             'must be > 0 and none negative')
        self.dataset = dataset
        self.test_mode = False
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.frames_by_source: List[List[Tuple[int, int]]] = []
        offset = 0
        for source in dataset.datasets:
            frames = [(offset + v, f) for v in range(len(source))
                      for f in range(source.get_len_per_video(v))]
            self.frames_by_source.append(frames)
            offset += len(source)
        base = len(self.frames_by_source[0])
        self.per_source = [base] + [
            int(round(base * r / source_ratio[0])) if frames else 0
            for r, frames in zip(source_ratio[1:], self.frames_by_source[1:])]
        total = sum(self.per_source)
        self.num_samples = int(math.ceil(total / self.world_size))
        self.total_size = self.num_samples * self.world_size

    def epoch_indices(self) -> List[Tuple[int, int]]:
        """This epoch's (global video, frame) pairs, before the split over
        processes."""
        rng = random.Random(self.seed + self.epoch)
        indices = []
        for frames, count in zip(self.frames_by_source, self.per_source):
            if not count:
                continue
            drawn = []
            while len(drawn) < count:
                drawn += rng.sample(frames, len(frames))
            indices += drawn[:count]
        rng.shuffle(indices)
        return indices

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        indices = self.epoch_indices()
        indices += indices[:self.total_size - len(indices)]
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
