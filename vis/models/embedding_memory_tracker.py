"""MaskTrack R-CNN's online tracker with an external embedding memory."""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps


class EmbeddingMemory:
    """Embeddings and last boxes of the tracks seen so far in one video.

    Attributes:
        ids (Tensor): (M,) track ids.
        embeds (Tensor): (M, D) latest (or running-average) embeddings.
        bboxes (Tensor): (M, 4) last boxes, (x1, y1, x2, y2).
        labels (Tensor): (M,) last class labels.
        last_frame (Tensor): (M,) frame index in which each track was last
            seen.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.ids = torch.zeros(0, dtype=torch.long)
        self.embeds: Optional[Tensor] = None
        self.bboxes = torch.zeros(0, 4)
        self.labels = torch.zeros(0, dtype=torch.long)
        self.last_frame = torch.zeros(0, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, keep: Tensor) -> None:
        """Keep only the rows where ``keep`` (M,) is True."""
        self.ids = self.ids[keep]
        self.embeds = self.embeds[keep] if self.embeds is not None else None
        self.bboxes = self.bboxes[keep]
        self.labels = self.labels[keep]
        self.last_frame = self.last_frame[keep]

    def write(self, slots: Tensor, embeds: Tensor, bboxes: Tensor,
              labels: Tensor, frame_id: int, momentum: float) -> None:
        """Refresh memory rows ``slots`` (S,) with new observations."""
        if len(slots) == 0:
            return
        old = self.embeds[slots]  # (S, D)
        self.embeds[slots] = momentum * embeds + (1 - momentum) * old
        self.bboxes[slots] = bboxes
        self.labels[slots] = labels
        self.last_frame[slots] = frame_id

    def append(self, ids: Tensor, embeds: Tensor, bboxes: Tensor,
               labels: Tensor, frame_id: int) -> None:
        """Add new tracks."""
        if len(ids) == 0:
            return
        self.ids = torch.cat([self.ids, ids])
        self.embeds = embeds.clone() if self.embeds is None else torch.cat(
            [self.embeds, embeds])
        self.bboxes = torch.cat([self.bboxes.to(bboxes), bboxes])
        self.labels = torch.cat([self.labels.to(labels.device), labels])
        self.last_frame = torch.cat([
            self.last_frame.to(labels.device),
            torch.full_like(ids, frame_id)
        ])


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
class EmbeddingMemoryTracker:
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
    ``num_frames_retain`` frames leaves the memory.

    Args:
        match_weights (dict): ``det_score``, ``iou`` and ``det_label``
            weights.
        num_frames_retain (int): frames a track survives without a match.
        momentum (float): weight of the new embedding when a track is
            matched; 1.0 keeps only the latest (MaskTrack R-CNN), lower
            values keep a running average.
    """

    def __init__(self,
                 match_weights: Optional[Dict[str, float]] = None,
                 num_frames_retain: int = 20,
                 momentum: float = 1.0) -> None:
        self.match_weights = dict(det_score=1.0, iou=2.0, det_label=10.0)
        if match_weights:
            unknown = set(match_weights) - set(self.match_weights)
            if unknown:
                raise KeyError(f'unknown match_weights keys {sorted(unknown)}')
            self.match_weights.update(match_weights)
        if num_frames_retain < 1:
            raise ValueError('num_frames_retain must be >= 1')
        if not 0 < momentum <= 1:
            raise ValueError('momentum must be in (0, 1]')
        self.num_frames_retain = num_frames_retain
        self.momentum = momentum
        self.memory = EmbeddingMemory()
        self.num_tracks = 0

    def reset(self) -> None:
        """Forget every track (call at the start of each video)."""
        self.memory.reset()
        self.num_tracks = 0

    @property
    def empty(self) -> bool:
        return len(self.memory) == 0

    def match_scores(self, embeds: Tensor, bboxes: Tensor, labels: Tensor,
                     scores: Tensor) -> Tensor:
        """Scores of every detection against ``[new] + memory``.

        Returns:
            Tensor: (K, M + 1); column 0 is "start a new track".
        """
        mem = self.memory
        sim = embeds @ mem.embeds.t()  # (K, M)
        logits = torch.cat([sim.new_zeros(len(sim), 1), sim], dim=1)
        ious = bbox_overlaps(bboxes, mem.bboxes.to(bboxes))  # (K, M)
        same_label = (labels[:, None] == mem.labels.to(labels)[None]).float()
        w = self.match_weights
        out = logits.log_softmax(dim=1)  # (K, M + 1)
        out = out + w['det_score'] * scores.clamp(min=1e-6).log()[:, None]
        out[:, 1:] += w['iou'] * ious + w['det_label'] * same_label
        out[:, 0] += w['det_label']
        return out

    def update(self, frame_id: int, embeds: Tensor, bboxes: Tensor,
               labels: Tensor, scores: Tensor) -> Tensor:
        """Track one frame's detections.

        Args:
            frame_id (int): index of the frame in its video.
            embeds (Tensor): (K, D) detection embeddings.
            bboxes (Tensor): (K, 4) boxes (x1, y1, x2, y2).
            labels (Tensor): (K,) class labels.
            scores (Tensor): (K,) detection scores.

        Returns:
            Tensor: (K,) track id of every detection.
        """
        mem = self.memory
        if len(mem):
            mem.keep(frame_id - mem.last_frame <= self.num_frames_retain)
        num_dets = len(embeds)
        rows = np.full(num_dets, -1, dtype=np.int64)
        if len(mem) and num_dets:
            match = self.match_scores(embeds, bboxes, labels, scores)
            match = match.detach().cpu().double().numpy()
            rows = greedy_assign(match[:, 1:], match[:, 0])
        rows_t = torch.as_tensor(rows, device=labels.device)
        ids = torch.empty(num_dets, dtype=torch.long, device=labels.device)
        matched = rows_t >= 0
        if len(mem):
            ids[matched] = mem.ids.to(labels.device)[rows_t[matched]]
        new = ~matched
        num_new = int(new.sum())
        ids[new] = torch.arange(self.num_tracks, self.num_tracks + num_new,
                                device=labels.device)
        self.num_tracks += num_new
        if len(mem):
            slots = rows_t[matched].to(mem.ids.device)
            mem.write(slots, embeds[matched], bboxes[matched],
                      labels[matched], frame_id, self.momentum)
        mem.append(ids[new], embeds[new], bboxes[new], labels[new], frame_id)
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
        bboxes = pred.bboxes
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
