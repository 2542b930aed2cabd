"""MaskTrack R-CNN's online tracker with an external embedding memory.

Device rules: the memory holds its tensors on the device (and in the dtype)
of the detections it is given; they are created from the first frame's
detections (the memory starts empty, with no tensors), so the tracker runs
on whatever device the model runs on. A frame met with an empty memory
reads no tensor values: every detection starts a track, computed from
shapes only (it runs on the ``meta`` device). With tracks in memory the one
device-to-host read per frame is :meth:`EmbeddingMemoryTracker.assign`
(the (K, M + 1) match scores, for the greedy one-to-one assignment); the
expiry test reads a host copy of the last-seen frames, so it costs no
device synchronisation.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps

from .retention import TrackRetention

#: retain window when a tracker config names neither num_frames_retain nor
#: retain_seconds (MaskTrack R-CNN's value)
DEFAULT_NUM_FRAMES_RETAIN = 20


class EmbeddingMemory:
    """Embeddings and last boxes of the tracks seen so far in one video.

    The tensors are None while nothing was ever appended (after
    :meth:`reset`); the first :meth:`append` creates them from its inputs,
    on their device and in their dtype. Later inputs must be on the same
    device.

    Attributes:
        ids (Tensor): (M,) int64 track ids.
        embeds (Tensor): (M, D) latest (or running-average) embeddings.
        bboxes (Tensor): (M, 4) last boxes, (x1, y1, x2, y2).
        labels (Tensor): (M,) int64 last class labels.
        last_frame (Tensor): (M,) int64 frame index in which each track was
            last seen.
        last_frame_host (ndarray): (M,) int64, the same on the host (frame
            indices are host integers, so this copy costs no device read).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every track; the next :meth:`append` picks the device."""
        self.ids: Optional[Tensor] = None
        self.embeds: Optional[Tensor] = None
        self.bboxes: Optional[Tensor] = None
        self.labels: Optional[Tensor] = None
        self.last_frame: Optional[Tensor] = None
        self.last_frame_host = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.last_frame_host)

    @property
    def device(self) -> Optional[torch.device]:
        """Device of the memory's tensors; None before the first append."""
        return None if self.ids is None else self.ids.device

    def _index(self, rows: np.ndarray) -> Tensor:
        """Host row indices (R,) as an int64 index tensor on the memory's
        device."""
        return torch.as_tensor(rows, dtype=torch.long, device=self.device)

    def keep(self, rows: np.ndarray) -> None:
        """Keep only memory rows ``rows`` ((R,) int64 host indices, in
        order)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == len(self) and np.array_equal(rows,
                                                     np.arange(len(self))):
            return
        index = self._index(rows)
        self.ids = self.ids[index]
        self.embeds = self.embeds[index]
        self.bboxes = self.bboxes[index]
        self.labels = self.labels[index]
        self.last_frame = self.last_frame[index]
        self.last_frame_host = self.last_frame_host[rows]

    def expire(self, frame_id: int, num_frames_retain: int) -> int:
        """Drop the tracks last seen more than ``num_frames_retain`` frames
        before ``frame_id``; returns how many were dropped. Reads only the
        host copy of the last-seen frames."""
        alive = np.flatnonzero(
            frame_id - self.last_frame_host <= num_frames_retain)  # (R,)
        dropped = len(self) - len(alive)
        if dropped:
            self.keep(alive)
        return dropped

    def check_device(self, tensor: Tensor, field: str,
                     frame_id: int) -> None:
        """Raise ``ValueError`` naming ``field`` and the frame when
        ``tensor`` is not on the device of the tracks held."""
        if self.device is not None and len(self) and \
                tensor.device != self.device:
            raise ValueError(
                f'EmbeddingMemory: frame {frame_id}: {field} are on '
                f'{tensor.device} but the memory holds its tracks on '
                f'{self.device} (reset the tracker between devices)')

    def write(self, slots: np.ndarray, embeds: Tensor, bboxes: Tensor,
              labels: Tensor, frame_id: int, momentum: float) -> None:
        """Refresh memory rows with new observations.

        Args:
            slots (ndarray): (S,) int64 host indices of the memory rows.
            embeds (Tensor): (S, D) embeddings of the matched detections.
            bboxes (Tensor): (S, 4) their boxes (x1, y1, x2, y2).
            labels (Tensor): (S,) their labels.
            frame_id (int): the frame they were seen in.
            momentum (float): weight of the new embedding.
        """
        slots = np.asarray(slots, dtype=np.int64)
        if len(slots) == 0:
            return
        self.check_device(embeds, 'embeds', frame_id)
        index = self._index(slots)
        old = self.embeds[index]  # (S, D)
        self.embeds[index] = (momentum * embeds.to(old.dtype)
                              + (1 - momentum) * old)
        self.bboxes[index] = bboxes.to(self.bboxes.dtype)
        self.labels[index] = labels.to(self.labels.dtype)
        self.last_frame[index] = frame_id
        self.last_frame_host[slots] = frame_id

    def append(self, ids: Tensor, embeds: Tensor, bboxes: Tensor,
               labels: Tensor, frame_id: int) -> None:
        """Add new tracks.

        Args:
            ids (Tensor): (N,) int64 their track ids.
            embeds (Tensor): (N, D) embeddings.
            bboxes (Tensor): (N, 4) boxes (x1, y1, x2, y2).
            labels (Tensor): (N,) labels.
            frame_id (int): the frame they were first seen in.

        With an empty memory the inputs become the memory (shapes only, no
        value is read); otherwise they are concatenated, on the memory's
        device, in its dtypes.
        """
        num = ids.shape[0]
        if num == 0:
            return
        last_frame = torch.full((num, ), frame_id, dtype=torch.long,
                                device=ids.device)  # (N,)
        if len(self) == 0:
            self.ids = ids.to(torch.long).clone()
            self.embeds = embeds.detach().clone()
            self.bboxes = bboxes.detach().clone()
            self.labels = labels.to(torch.long).clone()
            self.last_frame = last_frame
            self.last_frame_host = np.full(num, frame_id, dtype=np.int64)
            return
        for field, tensor in (('ids', ids), ('embeds', embeds),
                              ('bboxes', bboxes), ('labels', labels)):
            self.check_device(tensor, field, frame_id)
        self.ids = torch.cat([self.ids, ids.to(torch.long)])
        self.embeds = torch.cat([self.embeds,
                                 embeds.detach().to(self.embeds.dtype)])
        self.bboxes = torch.cat([self.bboxes,
                                 bboxes.detach().to(self.bboxes.dtype)])
        self.labels = torch.cat([self.labels, labels.to(torch.long)])
        self.last_frame = torch.cat([self.last_frame, last_frame])
        self.last_frame_host = np.concatenate(
            [self.last_frame_host, np.full(num, frame_id, dtype=np.int64)])


def greedy_assign(scores: np.ndarray, new_scores: np.ndarray) -> np.ndarray:
    """One-to-one assignment of detections to memory rows, best pair first.

    Args:
        scores (ndarray): (K, M) score of detection k continuing track m.
        new_scores (ndarray): (K,) score of detection k starting a new track.

    Returns:
        ndarray: (K,) matched memory row per detection, -1 for a new track.
    """
    num_dets, num_tracks = scores.shape
    assigned = np.full(num_dets, -1, dtype=np.int64)
    if num_dets == 0 or num_tracks == 0:
        return assigned
    # a pair is only a candidate when it beats starting a new track
    gain = np.where(scores > new_scores[:, None], scores, -np.inf)  # (K, M)
    for _ in range(min(num_dets, num_tracks)):
        flat = int(np.argmax(gain))
        k, m = divmod(flat, num_tracks)
        if not np.isfinite(gain[k, m]):
            break
        assigned[k] = m
        gain[k, :] = -np.inf
        gain[:, m] = -np.inf
    return assigned


@MODELS.register_module()
class EmbeddingMemoryTracker(TrackRetention):
    """Match each frame's detections against an embedding memory.

    For detection k and memory track m the match score is, as in MaskTrack
    R-CNN::

        log softmax_m'([0, s_k1 .. s_kM])_m        (appearance, 0 = new)
        + w_score * log(det_score_k)
        + w_iou   * IoU(box_k, last box_m)
        + w_label * [label_k == last label_m]

    where ``s_km`` is the embedding similarity from the track head. The
    "new track" column has IoU 0 and label term 1. Pairs are assigned one to
    one, best first; a detection whose best option is "new" (or whose tracks
    are taken) starts a new track. A track not matched for more than
    ``num_frames_retain`` frames (or ``retain_seconds`` of video, see
    :mod:`vis.models.retention`) leaves the memory.

    Args:
        match_weights (dict): ``det_score``, ``iou`` and ``det_label``
            weights.
        num_frames_retain (int, optional): frames a track survives without
            a match (20 when neither this nor ``retain_seconds`` is given).
        retain_seconds (float, optional): the same window in seconds; needs
            the frame rate (``fps`` here or :meth:`set_frame_rate`).
        fps (float, optional): frame rate of the source video.
        frame_stride (int): every ``frame_stride``-th source frame reaches
            the tracker.
        momentum (float): weight of the new embedding when a track is
            matched; 1.0 keeps only the latest (MaskTrack R-CNN), lower
            values keep a running average.
    """

    def __init__(self,
                 match_weights: Optional[Dict[str, float]] = None,
                 num_frames_retain: Optional[int] = None,
                 retain_seconds: Optional[float] = None,
                 fps: Optional[float] = None,
                 frame_stride: int = 1,
                 momentum: float = 1.0) -> None:
        self.match_weights = dict(det_score=1.0, iou=2.0, det_label=10.0)
        if match_weights:
            unknown = set(match_weights) - set(self.match_weights)
            if unknown:
                raise KeyError(f'unknown match_weights keys {sorted(unknown)}')
            self.match_weights.update(match_weights)
        if num_frames_retain is None and retain_seconds is None:
            num_frames_retain = DEFAULT_NUM_FRAMES_RETAIN
        super().__init__(num_frames_retain=num_frames_retain,
                         retain_seconds=retain_seconds, fps=fps,
                         frame_stride=frame_stride)
        if not 0 < momentum <= 1:
            raise ValueError('momentum must be in (0, 1]')
        self.momentum = momentum
        self.memory = EmbeddingMemory()
        self.num_tracks = 0

    def reset(self) -> None:
        """Forget every track (call at the start of each video); the frame
        rate set by :meth:`set_frame_rate` is kept."""
        self.memory.reset()
        self.num_tracks = 0

    @property
    def empty(self) -> bool:
        return len(self.memory) == 0

    def match_scores(self, embeds: Tensor, bboxes: Tensor, labels: Tensor,
                     scores: Tensor) -> Tensor:
        """Scores of every detection against ``[new] + memory``.

        Args:
            embeds (Tensor): (K, D) detection embeddings.
            bboxes (Tensor): (K, 4) boxes (x1, y1, x2, y2).
            labels (Tensor): (K,) class labels.
            scores (Tensor): (K,) detection scores.

        Returns:
            Tensor: (K, M + 1), at least float32, on the detections'
            device; column 0 is "start a new track".
        """
        mem = self.memory
        # half-precision embeddings (AMP) are compared in float32
        dtype = torch.promote_types(embeds.dtype, torch.float32)
        sim = embeds.to(dtype) @ mem.embeds.to(dtype).t()  # (K, M)
        logits = torch.cat([sim.new_zeros(len(sim), 1), sim], dim=1)
        ious = bbox_overlaps(bboxes.to(dtype), mem.bboxes.to(dtype))  # (K, M)
        same_label = (labels[:, None] == mem.labels.to(labels)[None]).to(
            dtype)  # (K, M)
        w = self.match_weights
        out = logits.log_softmax(dim=1)  # (K, M + 1)
        out = out + w['det_score'] * scores.to(dtype).clamp(
            min=1e-6).log()[:, None]
        out[:, 1:] += w['iou'] * ious + w['det_label'] * same_label
        out[:, 0] += w['det_label']
        return out

    def assign(self, match: Tensor) -> np.ndarray:
        """The frame's one device-to-host read: the greedy one-to-one
        assignment of ``match`` (K, M + 1) (see :meth:`match_scores`).

        Returns:
            ndarray: (K,) int64 memory row per detection, -1 for new.
        """
        host = match.detach().to('cpu', torch.float64).numpy()  # (K, M + 1)
        return greedy_assign(host[:, 1:], host[:, 0])

    def update(self, frame_id: int, embeds: Tensor, bboxes: Tensor,
               labels: Tensor, scores: Tensor) -> Tensor:
        """Track one frame's detections.

        Args:
            frame_id (int): index of the frame among the frames this tracker
                is given (consecutive processed frames differ by 1).
            embeds (Tensor): (K, D) detection embeddings.
            bboxes (Tensor): (K, 4) boxes (x1, y1, x2, y2).
            labels (Tensor): (K,) class labels.
            scores (Tensor): (K,) detection scores.

        Returns:
            Tensor: (K,) int64 track id of every detection, on the device of
            ``bboxes``.
        """
        try:
            retain = self.num_frames_retain
        except ValueError as err:
            raise ValueError(f'frame {frame_id}: {err}') from None
        mem = self.memory
        device = bboxes.device
        mem.expire(frame_id, retain)
        if len(mem):
            mem.check_device(bboxes, 'bboxes', frame_id)
        num_dets = bboxes.shape[0]
        if len(mem) == 0 or num_dets == 0:
            # nothing to match: every detection starts a track, from the
            # shapes alone (no tensor value is read)
            ids = torch.arange(self.num_tracks, self.num_tracks + num_dets,
                               dtype=torch.long, device=device)  # (K,)
            self.num_tracks += num_dets
            mem.append(ids, embeds, bboxes, labels, frame_id)
            return ids
        rows = self.assign(self.match_scores(embeds, bboxes, labels, scores))
        matched = np.flatnonzero(rows >= 0)  # (S,) detections continuing
        new = np.flatnonzero(rows < 0)  # (N,) detections starting a track
        ids = torch.empty(num_dets, dtype=torch.long, device=device)  # (K,)
        if len(matched):
            det_index = torch.as_tensor(matched, dtype=torch.long,
                                        device=device)
            slots = rows[matched]
            ids[det_index] = mem.ids[mem._index(slots)].to(device)
            mem.write(slots, embeds[det_index], bboxes[det_index],
                      labels[det_index], frame_id, self.momentum)
        if len(new):
            det_index = torch.as_tensor(new, dtype=torch.long, device=device)
            new_ids = torch.arange(self.num_tracks, self.num_tracks + len(new),
                                   dtype=torch.long, device=device)  # (N,)
            self.num_tracks += len(new)
            ids[det_index] = new_ids
            mem.append(new_ids, embeds[det_index], bboxes[det_index],
                       labels[det_index], frame_id)
        return ids

    def track(self, model: torch.nn.Module, feats: List[Tensor],
              data_sample: DetDataSample, rescale: bool = True,
              **kwargs) -> InstanceData:
        """Assign track ids to ``data_sample.pred_instances``.

        Args:
            model: the VIS model; its ``track_head`` embeds the detections.
            feats (list[Tensor]): FPN features of the frame, each
                (1, C, H_l, W_l).
            data_sample (DetDataSample): with ``pred_instances`` (boxes in
                the original image scale when ``rescale``) and ``frame_id``.

        Returns:
            InstanceData: the detections with ``instances_id`` (K,).
        """
        pred = data_sample.pred_instances
        frame_id = int(data_sample.metainfo.get('frame_id', -1))
        bboxes = pred.bboxes  # (K, 4)
        roi_bboxes = bboxes
        if rescale and len(bboxes):
            scale = bboxes.new_tensor(data_sample.metainfo['scale_factor'])
            roi_bboxes = bboxes * scale.repeat(2)[None]  # back to input scale
        if len(bboxes):
            roi_feats, _ = model.track_head.extract_roi_feats(
                feats, [roi_bboxes])
            embeds = model.track_head.embed_head.embed(roi_feats)  # (K, D)
        else:
            embeds = bboxes.new_zeros(0, 1)
        ids = self.update(frame_id, embeds, bboxes, pred.labels, pred.scores)
        out = pred.clone()
        out.instances_id = ids
        return out
