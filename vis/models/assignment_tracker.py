"""A tracker that needs no training: one-to-one assignment of a plain
detector's detections to the tracks of the previous frames.

Device rules: the tracks' tensors (last boxes, masks, labels, embeddings)
live on the device of the detections they came from and are created from
them; every new tensor takes its device from ``bboxes``. The lifecycle
(ids, hit counts, last-seen frames, confirmed flags) is kept on the host, so
the one device-to-host read per frame is the (K, 1 + M) matrix of detection
scores and match similarities handed to
:func:`scipy.optimize.linear_sum_assignment`. A frame with no detections
reads nothing (it runs on the ``meta`` device).
"""
import math
from numbers import Integral, Real
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps

from .embedding_memory_tracker import DEFAULT_NUM_FRAMES_RETAIN
from .retention import TrackRetention

#: weights of the similarity terms (renormalised over the available ones)
DEFAULT_WEIGHTS = dict(mask=0.4, box=0.2, appearance=0.3, label=0.1)
#: cost of a forbidden (non-candidate) pair in the assignment
_FORBIDDEN = 1e6
_HOST_INT = ('ids', 'hits', 'last_frame')
_HOST_BOOL = ('confirmed', 'has_mask', 'has_embed')


def _fit_masks(masks: Tensor, size: Tuple[int, int]) -> Tensor:
    """(N, H, W) masks resized to ``size`` (area interpolation of the float
    mask, threshold 0.5), as (N, h, w) bool."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks.bool()
    if masks.shape[0] == 0:
        return masks.new_zeros((0, *size), dtype=torch.bool)
    x = F.interpolate(masks[:, None].float(), size=size, mode='area')
    return x[:, 0] >= 0.5  # (N, h, w)


def mask_iou(masks1: Tensor, masks2: Tensor) -> Tensor:
    """IoU of (K, h, w) and (M, h, w) bool masks: (K, M) float32."""
    a = masks1.flatten(1).float()  # (K, h * w)
    b = masks2.flatten(1).float()  # (M, h * w)
    inter = a @ b.t()  # (K, M)
    union = a.sum(1)[:, None] + b.sum(1)[None] - inter  # (K, M)
    return inter / union.clamp(min=1)


def _check_number(name: str, value, low: float = 0.0, high: float = 1.0,
                  integer: bool = False, open_low: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number (an int with
    ``integer``) in [low, high] ((low, high] with ``open_low``)."""
    kind = Integral if integer else Real
    if (not isinstance(value, kind) or isinstance(value, bool)
            or not math.isfinite(value) or value > high or value < low
            or (open_low and value == low)):
        what = f'an int >= {low:g}' if integer else \
            f'a number in {"(" if open_low else "["}{low:g}, {high:g}]'
        raise ValueError(f'AssignmentTracker: {name} must be {what}, got '
                         f'{value!r}')


@MODELS.register_module()
class AssignmentTracker(TrackRetention):
    """Follow the detections of a pretrained detector by optimal one-to-one
    assignment, with tentative and confirmed tracks.

    Similarity of detection k and live track m, in [0, 1] for non-negative
    (e.g. ReLU) embeddings::

        sim = (w_mask * maskIoU(mask_k, last mask_m)
               + w_box * IoU(box_k, last box_m)
               + w_appearance * cos(embed_k, mean embed_m)
               + w_label * [label_k == label_m]) / (sum of the weights used)

    Default weights ``mask=0.4, box=0.2, appearance=0.3, label=0.1``. A term
    whose inputs are missing (``masks`` / ``embeds`` None, or a track that
    has none) is left out of the pair and the remaining weights are
    renormalised. A pair is a *candidate* only if ``sim >= match_thr``, it
    has spatial overlap (mask or box IoU > 0) or ``cos >=
    appearance_thr`` (re-entry elsewhere by appearance alone), and, with
    ``class_gate`` (the default), both have the same label: different
    classes never match, so the label term then only raises every
    candidate's similarity by the same amount.

    Each frame: tracks not seen for more than ``num_frames_retain`` frames
    are dropped; detections with ``score >= match_score`` are assigned to
    the confirmed tracks (Hungarian, cost ``1 - sim``, non-candidates
    forbidden), then the remaining ones to the tentative tracks; unmatched
    detections with ``score >= birth_score`` start tentative tracks (new ids,
    never reused within a video). A track is confirmed once matched on
    ``num_confirm`` frames (the birth frame counts). An unmatched tentative
    track is deleted; an unmatched confirmed one is remembered (last box,
    mask, mean embedding, label, last frame) for the retain window. A
    matched track takes the label of its detection.

    Args:
        weights (dict, optional): ``mask``, ``box``, ``appearance``,
            ``label`` weights (>= 0), updating :data:`DEFAULT_WEIGHTS`.
        match_thr (float): least similarity of a match.
        birth_score (float): least detection score to start a track.
        match_score (float): least detection score to continue one.
        num_confirm (int): matched frames that confirm a track.
        appearance_thr (float): least cosine for a match without overlap.
        mask_size (int): longer side of the masks compared and kept.
        num_frames_retain, retain_seconds, fps, frame_stride: the retain
            window (see :mod:`vis.models.retention`; 20 frames by default).
        momentum (float): weight of the new (L2-normalised) embedding in a
            track's running average.
        class_gate (bool): forbid matches between different classes.
    """

    def __init__(self, *, weights: Optional[Dict[str, float]] = None,
                 match_thr: float = 0.3, birth_score: float = 0.5,
                 match_score: float = 0.3, num_confirm: int = 3,
                 appearance_thr: float = 0.8, mask_size: int = 128,
                 num_frames_retain: Optional[int] = None,
                 retain_seconds: Optional[float] = None,
                 fps: Optional[float] = None, frame_stride: int = 1,
                 momentum: float = 0.5, class_gate: bool = True) -> None:
        self.weights = dict(DEFAULT_WEIGHTS)
        unknown = set(weights or ()) - set(self.weights)
        if unknown:
            raise ValueError(f'AssignmentTracker: unknown weights keys '
                             f'{sorted(unknown)} (known: '
                             f'{sorted(self.weights)})')
        self.weights.update(weights or {})
        for key, value in self.weights.items():
            _check_number(f'weights[{key!r}]', value, high=math.inf)
        if not any(self.weights.values()):
            raise ValueError('AssignmentTracker: the weights are all 0')
        for name, value in (('match_thr', match_thr),
                            ('birth_score', birth_score),
                            ('match_score', match_score),
                            ('appearance_thr', appearance_thr)):
            _check_number(name, value)
        if birth_score < match_score:
            raise ValueError(f'AssignmentTracker: birth_score ({birth_score})'
                             f' must be >= match_score ({match_score})')
        _check_number('num_confirm', num_confirm, 1, math.inf, integer=True)
        _check_number('mask_size', mask_size, 1, math.inf, integer=True)
        _check_number('momentum', momentum, open_low=True)
        if num_frames_retain is None and retain_seconds is None:
            num_frames_retain = DEFAULT_NUM_FRAMES_RETAIN
        TrackRetention.__init__(self, num_frames_retain=num_frames_retain,
                                retain_seconds=retain_seconds, fps=fps,
                                frame_stride=frame_stride)
        self.match_thr = float(match_thr)
        self.birth_score = float(birth_score)
        self.match_score = float(match_score)
        self.num_confirm = int(num_confirm)
        self.appearance_thr = float(appearance_thr)
        self.mask_size = int(mask_size)
        self.momentum = float(momentum)
        self.class_gate = bool(class_gate)
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new video); the next id is 0 again."""
        self.next_id = 0
        # host lifecycle, (M,) each: ids, matched-frame counts, last frame
        # seen, confirmed / has-a-mask / has-an-embedding flags
        for name in _HOST_INT:
            setattr(self, name, np.zeros(0, dtype=np.int64))
        for name in _HOST_BOOL:
            setattr(self, name, np.zeros(0, dtype=bool))
        # device memory; None while no track is held
        self.bboxes: Optional[Tensor] = None  # (M, 4) float32
        self.labels: Optional[Tensor] = None  # (M,) int64
        self.masks: Optional[Tensor] = None  # (M, h, w) bool, or None
        self.embeds: Optional[Tensor] = None  # (M, D) float32, or None

    def __len__(self) -> int:
        return len(self.ids)

    def _mask_shape(self, height: int, width: int) -> Tuple[int, int]:
        """Mask size kept for an (H, W) frame: longer side <= mask_size."""
        scale = min(1.0, self.mask_size / max(height, width, 1))
        return (max(1, round(height * scale)), max(1, round(width * scale)))

    def _keep(self, rows: np.ndarray) -> None:
        """Keep only the tracks at host rows ``rows`` (R,), in order."""
        if len(rows) == len(self) and np.array_equal(rows,
                                                     np.arange(len(self))):
            return
        if len(rows) == 0:
            next_id = self.next_id
            self.reset()
            self.next_id = next_id
            return
        for name in _HOST_INT + _HOST_BOOL:
            setattr(self, name, getattr(self, name)[rows])
        index = torch.as_tensor(rows, dtype=torch.long,
                                device=self.bboxes.device)  # (R,)
        for name in ('bboxes', 'labels', 'masks', 'embeds'):
            tensor = getattr(self, name)
            if tensor is not None:
                setattr(self, name, tensor[index])

    def similarity(self, bboxes: Tensor, labels: Tensor,
                   masks: Optional[Tensor] = None,
                   embeds: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Similarity of the detections to the tracks held.

        Args:
            bboxes (Tensor): (K, 4) boxes (x1, y1, x2, y2).
            labels (Tensor): (K,) labels.
            masks (Tensor, optional): (K, h, w) bool (resized to the size
                of the masks held).
            embeds (Tensor, optional): (K, D) appearance features.

        Returns:
            tuple[Tensor, Tensor]: (K, M) similarity (float32, float64 for
            float64 boxes) and (K, M) bool candidate pairs.
        """
        device = bboxes.device
        dtype = torch.promote_types(bboxes.dtype, torch.float32)
        w = self.weights
        box = bbox_overlaps(bboxes.to(dtype), self.bboxes.to(dtype))  # (K, M)
        same = labels.to(device)[:, None] == self.labels[None]  # (K, M)
        num = w['box'] * box + w['label'] * same.to(dtype)  # (K, M)
        den = box.new_full((1, len(self)), w['box'] + w['label'])  # (1, M)
        reach = box > 0  # (K, M)
        if masks is not None and self.masks is not None:
            has = torch.as_tensor(self.has_mask, device=device)[None]  # (1, M)
            masks = _fit_masks(masks.to(device), self.masks.shape[-2:])
            miou = mask_iou(masks, self.masks).to(dtype) * has  # (K, M)
            num = num + w['mask'] * miou
            den = den + w['mask'] * has
            reach = reach | (miou > 0)
        if embeds is not None and self.embeds is not None:
            has = torch.as_tensor(self.has_embed, device=device)[None]
            cos = F.normalize(embeds.to(dtype), dim=1) @ F.normalize(
                self.embeds.to(dtype), dim=1).t()  # (K, M)
            num = num + w['appearance'] * cos * has
            den = den + w['appearance'] * has
            reach = reach | ((cos >= self.appearance_thr) & has)
        sim = num / den.clamp(min=1e-12)  # (K, M)
        candidate = reach & (sim >= self.match_thr)
        if self.class_gate:
            candidate = candidate & same
        return sim, candidate

    @staticmethod
    def _assign(sim: np.ndarray, dets: np.ndarray, tracks: np.ndarray,
                out: np.ndarray) -> None:
        """Hungarian assignment of host rows ``dets`` to columns ``tracks``
        of ``sim`` (K, M) (non-candidates -inf); writes the matched column
        of each detection into ``out`` (K,)."""
        if len(dets) == 0 or len(tracks) == 0:
            return
        sub = sim[np.ix_(dets, tracks)]  # (K', M')
        ok = np.isfinite(sub)
        cost = np.where(ok, 1.0 - np.where(ok, sub, 0.0), _FORBIDDEN)
        rows, cols = linear_sum_assignment(cost)
        keep = ok[rows, cols]
        out[dets[rows[keep]]] = tracks[cols[keep]]

    def _update(self, frame_id: int, bboxes: Tensor, scores: Tensor,
                labels: Tensor, masks: Optional[Tensor],
                embeds: Optional[Tensor]) -> Tuple[np.ndarray, np.ndarray]:
        """:meth:`update` on the host: (K,) int64 ids and (K,) bool
        confirmed flags as ndarrays."""
        try:
            retain = self.num_frames_retain
        except ValueError as err:
            raise ValueError(f'frame {frame_id}: {err}') from None
        device = bboxes.device
        if len(self) and self.bboxes.device != device:
            raise ValueError(
                f'AssignmentTracker: frame {frame_id}: detections on {device}'
                f' but the tracks are on {self.bboxes.device} (reset the '
                'tracker between devices)')
        self._keep(np.flatnonzero(frame_id - self.last_frame <= retain))
        num_dets = bboxes.shape[0]
        if masks is not None:
            masks = _fit_masks(masks.to(device) if masks.dtype == torch.bool
                               else masks.to(device) > 0.5,
                               self._mask_shape(*masks.shape[-2:]))
            if self.masks is not None and \
                    self.masks.shape[-2:] != masks.shape[-2:]:
                self.masks = _fit_masks(self.masks, masks.shape[-2:])
        if embeds is not None:
            embeds = F.normalize(embeds.detach().to(device).float(), dim=1)
            if self.embeds is not None and \
                    self.embeds.shape[1] != embeds.shape[1]:
                raise ValueError(
                    f'AssignmentTracker: frame {frame_id}: embeds have '
                    f'{embeds.shape[1]} channels, the tracks '
                    f'{self.embeds.shape[1]}')
        match = np.full(num_dets, -1, dtype=np.int64)  # (K,) track row
        if num_dets == 0:
            host_scores = np.zeros(0)
        else:
            dtype = torch.promote_types(bboxes.dtype, torch.float32)
            columns = [scores.detach().to(device, dtype)[:, None]]  # (K, 1)
            if len(self):
                sim, candidate = self.similarity(bboxes, labels, masks,
                                                 embeds)
                columns.append(torch.where(
                    candidate, sim, sim.new_full((), -math.inf)))  # (K, M)
            # the frame's one device-to-host read: (K, 1 + M)
            host = torch.cat(columns, 1).detach().to(
                'cpu', torch.float64).numpy()
            host_scores, sim_host = host[:, 0], host[:, 1:]
            dets = np.flatnonzero(host_scores >= self.match_score)
            # confirmed tracks first, then tentative ones with the rest
            self._assign(sim_host, dets, np.flatnonzero(self.confirmed),
                         match)
            self._assign(sim_host, dets[match[dets] < 0],
                         np.flatnonzero(~self.confirmed), match)
        # matched tracks: refresh the memory
        det_rows = np.flatnonzero(match >= 0)  # (S,)
        slots = match[det_rows]  # (S,)
        if len(slots):
            self._write(frame_id, slots, det_rows, bboxes, labels, masks,
                        embeds)
        # unmatched tentative tracks are deleted, confirmed ones wait
        matched = np.zeros(len(self), dtype=bool)
        matched[slots] = True
        alive = np.flatnonzero(matched | self.confirmed)
        ids = np.full(num_dets, -1, dtype=np.int64)  # (K,)
        confirmed = np.zeros(num_dets, dtype=bool)  # (K,)
        ids[det_rows] = self.ids[slots]
        confirmed[det_rows] = self.confirmed[slots]
        self._keep(alive)
        born = np.flatnonzero((match < 0) & (host_scores >= self.birth_score))
        if len(born):
            ids[born] = np.arange(self.next_id, self.next_id + len(born))
            self.next_id += len(born)
            confirmed[born] = self.num_confirm <= 1
            self._append(frame_id, ids[born], born, bboxes, labels, masks,
                         embeds)
        return ids, confirmed

    def _write(self, frame_id: int, slots: np.ndarray, det_rows: np.ndarray,
               bboxes: Tensor, labels: Tensor, masks: Optional[Tensor],
               embeds: Optional[Tensor]) -> None:
        """Refresh tracks ``slots`` (S,) with detections ``det_rows`` (S,)."""
        device = bboxes.device
        det = torch.as_tensor(det_rows, dtype=torch.long, device=device)
        idx = torch.as_tensor(slots, dtype=torch.long, device=device)
        self.bboxes[idx] = bboxes[det].detach().float()
        self.labels[idx] = labels[det].to(device, torch.long)
        if masks is not None:
            if self.masks is None:
                self.masks = masks.new_zeros((len(self), *masks.shape[-2:]))
            self.masks[idx] = masks[det]
        self.has_mask[slots] = masks is not None
        if embeds is not None:
            if self.embeds is None:
                self.embeds = embeds.new_zeros(len(self), embeds.shape[1])
            old = self.embeds[idx]  # (S, D)
            had = torch.as_tensor(self.has_embed[slots], device=device)
            mixed = self.momentum * embeds[det] + (1 - self.momentum) * old
            self.embeds[idx] = torch.where(had[:, None], mixed, embeds[det])
            self.has_embed[slots] = True
        self.hits[slots] += 1
        self.last_frame[slots] = frame_id
        self.confirmed[slots] |= self.hits[slots] >= self.num_confirm

    def _append(self, frame_id: int, new_ids: np.ndarray,
                det_rows: np.ndarray, bboxes: Tensor, labels: Tensor,
                masks: Optional[Tensor], embeds: Optional[Tensor]) -> None:
        """Start tentative tracks ``new_ids`` (N,) from ``det_rows`` (N,)."""
        device = bboxes.device
        num, held = len(new_ids), len(self)
        det = torch.as_tensor(det_rows, dtype=torch.long, device=device)

        def grow(old: Optional[Tensor],
                 new: Optional[Tensor]) -> Optional[Tensor]:
            # concatenate, filling rows without data with zeros
            if new is None and old is None:
                return None
            if new is None:
                new = old.new_zeros((num, *old.shape[1:]))
            if old is None:
                old = new.new_zeros((held, *new.shape[1:]))
            return torch.cat([old, new])

        self.bboxes = grow(self.bboxes, bboxes[det].detach().float())
        self.labels = grow(self.labels, labels[det].to(device, torch.long))
        self.masks = grow(self.masks, None if masks is None else masks[det])
        self.embeds = grow(self.embeds,
                           None if embeds is None else embeds[det])
        host = dict(ids=new_ids, hits=np.ones(num, dtype=np.int64),
                    last_frame=np.full(num, frame_id, dtype=np.int64),
                    confirmed=np.full(num, self.num_confirm <= 1),
                    has_mask=np.full(num, masks is not None),
                    has_embed=np.full(num, embeds is not None))
        for name, values in host.items():
            setattr(self, name, np.concatenate([getattr(self, name),
                                                values]))

    def update(self, frame_id: int, bboxes: Tensor, scores: Tensor,
               labels: Tensor, masks: Optional[Tensor] = None,
               embeds: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Track one frame's detections.

        Args:
            frame_id (int): index of the frame among the processed frames.
            bboxes (Tensor): (K, 4) boxes (x1, y1, x2, y2) in pixels.
            scores (Tensor): (K,) detection scores.
            labels (Tensor): (K,) int64 class labels.
            masks (Tensor, optional): (K, H, W) bool masks of the frame.
            embeds (Tensor, optional): (K, D) appearance features.

        Returns:
            tuple[Tensor, Tensor]: (K,) int64 track ids (-1: not tracked)
            and (K,) bool confirmed flags, on the device of ``bboxes``.
        """
        ids, confirmed = self._update(frame_id, bboxes, scores, labels,
                                      masks, embeds)
        device = bboxes.device
        return (torch.as_tensor(ids, dtype=torch.long, device=device),
                torch.as_tensor(confirmed, dtype=torch.bool, device=device))

    def track(self, model: Optional[torch.nn.Module], feats: Optional[List],
              data_sample: DetDataSample, rescale: bool = True,
              **kwargs) -> InstanceData:
        """Track ``data_sample.pred_instances`` (``bboxes``, ``scores``,
        ``labels``, optional dense ``masks`` (K, H, W) and ``embeds``
        (K, D)) of frame ``data_sample.metainfo['frame_id']``. ``model`` and
        ``feats`` are unused; frame 0 does not reset (the model does).

        Returns:
            InstanceData: the tracked detections (id >= 0) with
            ``instances_id`` (int64) and ``confirmed`` (bool), without
            ``embeds``.
        """
        pred = data_sample.pred_instances
        frame_id = int(data_sample.metainfo.get('frame_id', -1))
        masks = pred.get('masks', None)
        if masks is not None and not isinstance(masks, Tensor):
            raise TypeError('AssignmentTracker.track: pred_instances.masks '
                            f'must be a dense (K, H, W) tensor, got '
                            f'{type(masks).__name__}')
        ids, confirmed = self._update(frame_id, pred.bboxes, pred.scores,
                                      pred.labels, masks,
                                      pred.get('embeds', None))
        device = pred.bboxes.device
        keep = np.flatnonzero(ids >= 0)  # (T,)
        out = pred[torch.as_tensor(keep, dtype=torch.long, device=device)]
        out.pop('embeds', None)
        out.instances_id = torch.as_tensor(ids[keep], dtype=torch.long,
                                           device=device)
        out.confirmed = torch.as_tensor(confirmed[keep], dtype=torch.bool,
                                        device=device)
        return out
