"""Video IoU of (detection, ground truth) track pairs, from a per-frame IoU.

Video IoU of a detection ``d`` and a ground truth ``g``::

    sum_f |d_f & g_f| / sum_f |d_f | g_f|

over the frames ``f`` both frame lists have (``zip``; a frame where only one
of the two is present adds that one's size to the union); 0 when the union
is 0.  Sizes and intersections come from a :class:`~.frame_iou.FrameIoU`
(``mask``: pixel counts), so the ratio is the same float64 as the official
one.  The same pairs' per-frame IoUs (:func:`_pair_frame_ious`) are the
tracking metrics' similarities.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .frame_iou import FrameIoU, _ratio, get_frame_iou
from .rle import _MaskTracks, _mean_nonzero_segments
from .tracks import _mask_tracks, _Track


def _common_frame_sizes(frame_iou: FrameIoU, dets: _MaskTracks,
                        gts: _MaskTracks, pair_det: np.ndarray,
                        pair_gt: np.ndarray):
    """Per pair and frame, the masks' indices and sizes over the frames both
    frame lists have (``zip()`` semantics).

    Args:
        pair_det, pair_gt: (Q,) int64 track indices into ``dets``, ``gts``.

    Returns:
        d_pos, g_pos: (D, F), (G, F) int64 mask index per track and frame
        (-1 where absent); pair_d_sizes, pair_g_sizes: (Q, F) int64 sizes,
        0 where absent or beyond the shorter list.
    """
    num_frames = int(max(dets.length.max(initial=0),
                         gts.length.max(initial=0)))
    d_pos, d_sizes = dets.tables(num_frames, frame_iou.sizes(dets))  # (D, F)
    g_pos, g_sizes = gts.tables(num_frames, frame_iou.sizes(gts))  # (G, F)
    common = np.minimum(dets.length[pair_det], gts.length[pair_gt])  # (Q,)
    in_common = np.arange(num_frames) < common[:, None]  # (Q, F)
    pair_d_sizes = np.where(in_common, d_sizes[pair_det], 0)  # (Q, F)
    pair_g_sizes = np.where(in_common, g_sizes[pair_gt], 0)  # (Q, F)
    return d_pos, g_pos, pair_d_sizes, pair_g_sizes


def _pair_video_ious(frame_iou: FrameIoU, dets: _MaskTracks,
                     gts: _MaskTracks, pair_det: np.ndarray,
                     pair_gt: np.ndarray, pair_block: np.ndarray,
                     block_sizes: Sequence[Tuple[int, int]],
                     lowest: Optional[float] = None) -> np.ndarray:
    """Exact video IoUs of Q (detection, ground truth) pairs.

    Args:
        frame_iou: how masks of one frame are compared.
        dets: D detection tracks; gts: G ground-truth tracks.
        pair_det, pair_gt: (Q,) int64 track indices.
        pair_block: (Q,) int64 block (a (video, category) pair) of each pair.
        block_sizes: (height, width) of each block's frames.
        lowest: if given, pairs whose IoU is provably below it (from the
            sizes alone: ``|d_f & g_f| <= min(|d_f|, |g_f|)``) are not
            intersected and get IoU 0.

    Returns:
        (Q,) float64 video IoUs.
    """
    d_pos, g_pos, pair_d_sizes, pair_g_sizes = _common_frame_sizes(
        frame_iou, dets, gts, pair_det, pair_gt)  # (Q, F) sizes
    total = (pair_d_sizes + pair_g_sizes).sum(axis=1)  # (Q,) |d| + |g|
    both = (pair_d_sizes > 0) & (pair_g_sizes > 0)  # (Q, F)
    if lowest is not None:
        bound = np.minimum(pair_d_sizes, pair_g_sizes).sum(axis=1)  # (Q,)
        both &= (bound >= lowest * (total - bound))[:, None]
    pf_pair, pf_frame = np.nonzero(both)  # (P,)
    pf_inter = frame_iou.intersections(
        dets, gts, d_pos[pair_det[pf_pair], pf_frame],
        g_pos[pair_gt[pf_pair], pf_frame], pair_block[pf_pair],
        block_sizes)  # (P,)
    inter = np.rint(np.bincount(pf_pair, weights=pf_inter,
                                minlength=pair_det.size)).astype(np.int64)
    return _ratio(inter, total - inter)


def _pair_frame_ious(frame_iou: FrameIoU, dets: _MaskTracks,
                     gts: _MaskTracks, pair_det: np.ndarray,
                     pair_gt: np.ndarray, pair_block: np.ndarray,
                     block_sizes: Sequence[Tuple[int, int]]):
    """Per-frame IoUs of Q track pairs, where both masks have a size.

    Arguments as :func:`_pair_video_ious`.  Frames where either mask is
    absent or of size 0 are left out (their IoU is 0).

    Returns:
        pf_pair: (P,) int64 pair index (non-decreasing); pf_frame: (P,)
        int64 frame; pf_iou: (P,) float64 IoU.
    """
    d_pos, g_pos, pair_d_sizes, pair_g_sizes = _common_frame_sizes(
        frame_iou, dets, gts, pair_det, pair_gt)  # (Q, F) sizes
    pf_pair, pf_frame = np.nonzero((pair_d_sizes > 0) &
                                   (pair_g_sizes > 0))  # (P,)
    pf_iou = frame_iou.ious(dets, gts, d_pos[pair_det[pf_pair], pf_frame],
                            g_pos[pair_gt[pf_pair], pf_frame],
                            pair_block[pf_pair], block_sizes)  # (P,)
    return pf_pair, pf_frame, pf_iou


def mask_video_ious(dets: Sequence[_Track], gts: Sequence[_Track],
                    height: int, width: int,
                    frame_iou: Union[str, FrameIoU] = 'mask'
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Exact video IoUs between mask detections and ground truths.

    Args:
        dets: D mask tracks; gts: G mask tracks of the same video.
        height, width: the video's frame size.
        frame_iou: the per-frame IoU, a registered name or instance.

    Returns:
        ious: (D, G) float64 video IoUs.
        det_avg_areas: (D,) float64 average non-zero frame area per detection.
    """
    frame_iou = get_frame_iou(frame_iou)
    num_dets, num_gts = len(dets), len(gts)
    det_tracks = _mask_tracks(dets, height, width)
    det_avg = _mean_nonzero_segments(det_tracks.areas, det_tracks.per_track)
    if num_dets == 0 or num_gts == 0:
        return np.zeros((num_dets, num_gts)), det_avg
    pair_det = np.repeat(np.arange(num_dets), num_gts)  # (D * G,) det major
    pair_gt = np.tile(np.arange(num_gts), num_dets)
    ious = _pair_video_ious(frame_iou, det_tracks,
                            _mask_tracks(gts, height, width), pair_det,
                            pair_gt, np.zeros_like(pair_det),
                            [(height, width)])
    # (D * G,) det-major pairs -> (D, G)
    return ious.reshape(num_dets, num_gts), det_avg
