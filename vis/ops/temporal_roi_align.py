"""Temporal RoI Align (Gong et al., "Temporal ROI Align for Video Object
Recognition", AAAI 2021), written as a torchvision-style op.

The op refines the RoI features of a key frame with features gathered from
``T`` support frames, in two steps:

1. :func:`most_similar_roi_align` (no parameters): for every cell of every
   RoI, find the ``topk`` locations of each support feature map that are the
   most cosine-similar to it, and take the softmax(similarity)-weighted sum of
   the raw support features there. Result: one "aligned" RoI feature per RoI
   and support frame.
2. :class:`TemporalAttention` (parameters): multi-head attention over the
   ``T + 1`` frames (key + supports), per RoI cell, whose logits are scaled
   dot products of 3x3-conv embeddings with the key frame's embedding, and
   whose values are the raw features.

:func:`temporal_roi_align` chains both; :class:`TemporalRoIAlign` is the
module wrapper that owns the attention blocks.

Shape notation used in all docstrings and comments:

* ``K``: number of RoIs of the key frame,
* ``C``: channels, ``S``: RoI output size (``S x S`` cells, usually 7),
* ``T``: number of support frames, ``H, W``: support feature map size,
* ``M = K*S*S``: number of RoI cells, ``N = H*W``: support locations,
* ``k``: the number of top locations kept per cell and frame,
* ``h``: attention heads, ``d = C / h``: channels per head.

Cosine similarity uses the norms clamped at ``1e-12`` (as
:func:`torch.nn.functional.normalize`), so all-zero vectors have similarity 0.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

__all__ = [
    'most_similar_roi_align', 'temporal_roi_align', 'TemporalAttention',
    'TemporalRoIAlign', 'DEFAULT_MAX_CHUNK_ELEMS'
]

#: Default budget, in elements, of one similarity chunk: 2**25 elements are
#: 128 MiB in float32 and 256 MiB in float64.
DEFAULT_MAX_CHUNK_ELEMS = 2**25

_NORM_EPS = 1e-12


def _chunk_plan(num_frames: int, num_cells: int, num_locs: int,
                max_chunk_elems: int) -> Tuple[int, int]:
    """How many support frames and RoI cells one similarity chunk holds.

    A chunk is a ``(frames, cells, N)`` similarity block, so it holds
    ``frames * cells * N <= max_chunk_elems`` elements, except that it never
    holds less than one cell of one frame (``N`` elements). Whole frames are
    preferred (every cell of ``frames`` frames); otherwise one frame and an
    even split of the cells.

    Returns:
        Tuple[int, int]: (frames per chunk, cells per chunk), both >= 1.
    """
    pairs = max(1, max_chunk_elems // max(1, num_locs))  # (frame, cell) pairs
    if num_cells <= pairs:
        frames = max(1, min(num_frames, pairs // max(1, num_cells)))
        return frames, max(1, num_cells)
    num_chunks = -(-num_cells // pairs)  # ceil: chunks per frame
    return 1, -(-num_cells // num_chunks)  # even split, each <= pairs


class _MostSimilarAlign(torch.autograd.Function):
    """Top-k cosine search and weighted gather, with a sparse backward.

    Inputs: ``q`` (M, C) unit-norm RoI cells, ``v`` (T, C, N) raw support.
    Output: (T, C, M).

    The support is normalised on the fly: a chunk's similarities are
    ``(q @ v) / |v|`` (the norms ``|v|``, (T, 1, N), are the only extra
    support-sized state), so no normalised copy of the support is made.

    Forward, per chunk: the dense similarity block, its top-k, the softmax of
    the top-k values and the weighted sum of the raw support features. Only
    the top-k indices, values and softmax weights (``(T, M, k)`` each) are
    kept for backward, never a similarity block.

    Backward only touches the ``k`` selected locations per cell and frame
    (the gradient of a top-k is zero elsewhere), so it costs
    ``O(T*M*k*C)`` time instead of the forward's ``O(T*M*N*C)``, plus the
    ``(T, C, N)`` gradient of ``v``. With ``s = v / max(|v|, eps)`` and
    ``cos = q . s``: ``d cos / d q = s`` and ``d cos / d v = (q - cos * s) /
    |v|`` (``q / eps`` where the norm is clamped, as in F.normalize). It is
    not itself differentiable (no double backward).
    """

    @staticmethod
    def forward(ctx, q: Tensor, v: Tensor, topk: int,
                max_chunk_elems: int) -> Tensor:
        num_cells, channels = q.shape
        num_frames, _, num_locs = v.shape
        norms = v.norm(dim=1, keepdim=True)  # (T, 1, N)
        inv_norms = 1.0 / norms.clamp_min(_NORM_EPS)  # (T, 1, N)
        out = v.new_empty(num_frames, channels, num_cells)  # (T, C, M)
        idx = torch.empty(num_frames, num_cells, topk, dtype=torch.long,
                          device=v.device)  # (T, M, k)
        cos = v.new_empty(num_frames, num_cells, topk)  # (T, M, k)
        weights = v.new_empty(num_frames, num_cells, topk)  # (T, M, k)
        frames_step, cells_step = _chunk_plan(num_frames, num_cells, num_locs,
                                              max_chunk_elems)
        for t0 in range(0, num_frames, frames_step):
            t1 = min(num_frames, t0 + frames_step)
            for m0 in range(0, num_cells, cells_step):
                m1 = min(num_cells, m0 + cells_step)
                tc, mc = t1 - t0, m1 - m0
                # (tc, mc, C) @ (tc, C, N) -> (tc, mc, N): the only dense
                # block; times 1/|v| (tc, 1, N) -> cosine similarities
                sim = torch.bmm(q[m0:m1].expand(tc, mc, channels), v[t0:t1])
                sim.mul_(inv_norms[t0:t1])
                vals, top = sim.topk(topk, dim=2)  # (tc, mc, k) each
                del sim
                w = vals.softmax(dim=2)  # (tc, mc, k)
                # gather raw support at the top locations: (tc, C, mc*k)
                gathered = v[t0:t1].gather(
                    2, top.reshape(tc, 1, mc * topk).expand(tc, channels, -1))
                # (tc, C, mc*k) -> (tc, C, mc, k)
                gathered = gathered.view(tc, channels, mc, topk)
                # weighted sum over k: (tc, C, mc)
                out[t0:t1, :, m0:m1] = (gathered * w.unsqueeze(1)).sum(3)
                idx[t0:t1, m0:m1] = top
                cos[t0:t1, m0:m1] = vals
                weights[t0:t1, m0:m1] = w
        ctx.save_for_backward(q, v, norms, idx, cos, weights)
        ctx.chunk = (frames_step, cells_step)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        q, v, norms, idx, cos, weights = ctx.saved_tensors
        num_frames, num_cells, topk = idx.shape
        channels = q.size(1)
        need_q, need_v = ctx.needs_input_grad[:2]
        grad_q = torch.zeros_like(q) if need_q else None  # (M, C)
        grad_v = torch.zeros_like(v) if need_v else None  # (T, C, N)
        frames_step, cells_step = ctx.chunk
        for t0 in range(0, num_frames, frames_step):
            t1 = min(num_frames, t0 + frames_step)
            for m0 in range(0, num_cells, cells_step):
                m1 = min(num_cells, m0 + cells_step)
                tc, mc = t1 - t0, m1 - m0
                top = idx[t0:t1, m0:m1]  # (tc, mc, k)
                w = weights[t0:t1, m0:m1].unsqueeze(1)  # (tc, 1, mc, k)
                g = grad_out[t0:t1, :, m0:m1].unsqueeze(3)  # (tc, C, mc, 1)
                top_flat = top.reshape(tc, 1, mc * topk)  # (tc, 1, mc*k)
                top_exp = top_flat.expand(tc, channels, -1)  # (tc, C, mc*k)
                # raw support at the selected locations: (tc, C, mc, k)
                vg = v[t0:t1].gather(2, top_exp).view(tc, channels, mc, topk)
                # out = sum_k w * vg: d/dw -> (tc, 1, mc, k)
                grad_w = (vg * g).sum(1, keepdim=True)
                # softmax backward -> d/dcos, (tc, 1, mc, k)
                grad_cos = w * (grad_w - (w * grad_w).sum(3, keepdim=True))
                # norms at the selected locations: (tc, 1, mc, k)
                ng = norms[t0:t1].gather(2, top_flat).view(tc, 1, mc, topk)
                inv = 1.0 / ng.clamp_min(_NORM_EPS)
                sg = vg * inv  # normalised support there, (tc, C, mc, k)
                if need_q:
                    # cos = q . s: sum over t, k of grad_cos * s -> (mc, C)
                    grad_q[m0:m1] += torch.einsum('tmk,tcmk->mc',
                                                  grad_cos.squeeze(1), sg)
                if need_v:
                    # (C, mc) -> (1, C, mc, 1)
                    qc = q[m0:m1].t().reshape(1, channels, mc, 1)
                    # projection term only where the norm is not clamped
                    proj = sg * (cos[t0:t1, m0:m1].unsqueeze(1) *
                                 (ng > _NORM_EPS))
                    # via w: g * w; via cos: grad_cos * (q - cos * s) / |v|
                    src = g * w + grad_cos * inv * (qc - proj)
                    # (tc, C, mc, k) -> (tc, C, mc*k), summed into locations
                    grad_v[t0:t1].scatter_add_(
                        2, top_exp, src.reshape(tc, channels, mc * topk))
        return grad_q, grad_v, None, None


def most_similar_roi_align(
        roi_feats: Tensor,
        support_feats: Tensor,
        topk: int = 2,
        max_chunk_elems: int = DEFAULT_MAX_CHUNK_ELEMS) -> Tensor:
    """Most similar RoI align: per RoI cell, the softmax-weighted sum of the
    ``topk`` most cosine-similar support locations, for each support frame.

    For each RoI cell ``x`` (a C-vector) and support frame ``t``, with
    ``cos_n = cos(x, support[t, :, n])`` over all ``N = H*W`` locations
    ``n`` and ``I`` the indices of the ``topk`` largest ``cos_n``::

        out[t, cell] = sum_{n in I} softmax_{I}(cos)_n * support[t, :, n]

    The weights come from the cosine similarities, the summed features are the
    raw (not normalised) support features. ``topk`` is clipped to ``N``.

    The ``(T, M, N)`` similarity tensor is never materialised: it is computed
    in chunks of at most ``max_chunk_elems`` elements (chunks over support
    frames, or over RoI cells within one frame; never less than one cell of
    one frame, i.e. ``N`` elements). The support is not copied: its norms
    rescale each chunk. Only the top-k indices, similarities and weights are
    kept for backward.

    Complexity:

    * time ``O(T*K*S^2*H*W*C)`` forward (dense similarities, plus the top-k
      over ``H*W`` per cell and frame); ``O(T*K*S^2*k*C + T*C*H*W)``
      backward (sparse: only the selected locations, plus zeroing the
      support gradient);
    * extra memory ``O(chunk*S^2*H*W)`` for ``chunk`` RoIs (``chunk * S^2 *
      H * W <= max(max_chunk_elems, H*W)``, the chunk may also hold several
      frames or part of a RoI's cells), plus the outputs ``O(T*K*C*S^2)``,
      the saved indices/weights ``O(T*K*S^2*k)`` and the norms ``O(T*H*W)``;
      backward adds the input gradients (``O(T*C*H*W)`` for the support)
      and ``O(chunk*S^2*k*C)`` temporaries.

    Ties between equal similarities are broken by :meth:`torch.topk`.
    Gradients flow to both inputs (through the softmax weights, the cosine
    similarities and the gathered features); the selection itself is
    piecewise constant. Double backward is not supported.

    Args:
        roi_feats (Tensor): (K, C, S, S) RoI features of the key frame.
        support_feats (Tensor): (T, C, H, W) support feature maps.
        topk (int): locations kept per cell and frame, >= 1.
        max_chunk_elems (int): budget of one similarity chunk, in elements.

    Returns:
        Tensor: (T, K, C, S, S) aligned support features (a permuted view of
        a (T, C, K, S, S) buffer, i.e. not contiguous when K > 1).
    """
    _check_inputs(roi_feats, support_feats)
    if topk < 1:
        raise ValueError(f'topk must be >= 1, got {topk}')
    if max_chunk_elems < 1:
        raise ValueError(
            f'max_chunk_elems must be >= 1, got {max_chunk_elems}')
    num_rois, channels, size_h, size_w = roi_feats.shape
    num_frames, _, height, width = support_feats.shape
    num_locs = height * width
    if num_locs == 0:
        raise ValueError('support_feats must have H*W > 0, got shape '
                         f'{tuple(support_feats.shape)}')
    topk = min(topk, num_locs)
    # (K, C, S, S) -> (K, S, S, C) -> (M, C), cells in (K, S, S) order
    cells = roi_feats.permute(0, 2, 3, 1).reshape(-1, channels)
    q = F.normalize(cells, dim=1, eps=_NORM_EPS)  # (M, C)
    v = support_feats.flatten(2)  # (T, C, H, W) -> (T, C, N)
    out = _MostSimilarAlign.apply(q, v, topk, max_chunk_elems)  # (T, C, M)
    # (T, C, M) -> (T, C, K, S, S) -> (T, K, C, S, S)
    return out.view(num_frames, channels, num_rois, size_h,
                    size_w).transpose(1, 2)


def _check_inputs(roi_feats: Tensor, support_feats: Tensor) -> None:
    if roi_feats.dim() != 4:
        raise ValueError('roi_feats must be (K, C, S, S), got shape '
                         f'{tuple(roi_feats.shape)}')
    if support_feats.dim() != 4:
        raise ValueError('support_feats must be (T, C, H, W), got shape '
                         f'{tuple(support_feats.shape)}')
    if roi_feats.size(1) != support_feats.size(1):
        raise ValueError(
            f'channel mismatch: roi_feats has {roi_feats.size(1)}, '
            f'support_feats has {support_feats.size(1)}')
    if roi_feats.dtype != support_feats.dtype:
        raise ValueError(f'dtype mismatch: roi_feats {roi_feats.dtype}, '
                         f'support_feats {support_feats.dtype}')
    if roi_feats.device != support_feats.device:
        raise ValueError(f'device mismatch: roi_feats {roi_feats.device}, '
                         f'support_feats {support_feats.device}')


class TemporalAttention(nn.Module):
    """Multi-head attention over frames, per RoI cell (one block).

    The key features and the T support features are stacked into
    ``T + 1`` frames and embedded by one 3x3 conv (C -> C, padding 1, shared
    by all frames). The embedding channels are split into ``h`` heads of
    ``d = C / h`` channels. Per head and cell, the logit of frame ``t`` is
    ``<e_t, e_key> / sqrt(d)``, softmax runs over the ``T + 1`` frames, and
    the output is the attention-weighted sum of the RAW features (the head's
    channel group of the raw features is weighted by that head's attention).

    Initialisation: conv weight ~ N(0, 0.1^2 / fan_in) with
    ``fan_in = 9*C``, bias 0. For unit-variance inputs the embeddings have a
    std of about 0.1, so the logits are O(0.01 * sqrt(d)) and the output
    starts within a few percent of the plain mean over frames. It is not
    exactly the mean on purpose: with a zero conv, every embedding is 0 and
    so is the gradient of the logits w.r.t. the conv, i.e. training would
    never leave the mean.

    Complexity: ``O((T+1)*K*S^2*C*(9*C))`` time for the conv, extra memory
    ``O((T+1)*K*C*S^2)`` (stacked features and embeddings).

    Args:
        in_channels (int): C; must be divisible by ``num_heads``.
        num_heads (int): h.
    """

    def __init__(self, *, in_channels: int, num_heads: int = 4):
        super().__init__()
        if in_channels < 1 or num_heads < 1:
            raise ValueError('in_channels and num_heads must be >= 1, got '
                             f'{in_channels} and {num_heads}')
        if in_channels % num_heads != 0:
            raise ValueError(
                f'in_channels ({in_channels}) must be divisible by '
                f'num_heads ({num_heads})')
        self.in_channels = in_channels
        self.num_heads = num_heads
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Near-mean, non-degenerate start (see the class docstring)."""
        fan_in = self.conv.weight[0].numel()  # C * 3 * 3
        nn.init.normal_(self.conv.weight, std=0.1 / math.sqrt(fan_in))
        nn.init.zeros_(self.conv.bias)

    def forward(self, key: Tensor, support: Tensor) -> Tensor:
        """
        Args:
            key (Tensor): (K, C, S, S) key-frame RoI features.
            support (Tensor): (T, K, C, S, S) aligned support features.

        Returns:
            Tensor: (K, C, S, S) attention-weighted features.
        """
        if key.dim() != 4 or key.size(1) != self.in_channels:
            raise ValueError(f'key must be (K, {self.in_channels}, S, S), '
                             f'got shape {tuple(key.shape)}')
        if support.dim() != 5 or support.shape[1:] != key.shape:
            raise ValueError(
                f'support must be (T, {", ".join(map(str, key.shape))}), '
                f'got shape {tuple(support.shape)}')
        num_rois, channels, size_h, size_w = key.shape
        frames = support.size(0) + 1
        heads = self.num_heads
        dim = channels // heads
        feats = torch.cat([key.unsqueeze(0), support])  # (T+1, K, C, S, S)
        # (T+1, K, C, S, S) -> (T+1*K, C, S, S), conv shared over frames
        emb = self.conv(feats.reshape(frames * num_rois, channels, size_h,
                                      size_w))
        # (T+1*K, C, S, S) -> (T+1, K, h, d, S*S)
        emb = emb.view(frames, num_rois, heads, dim, size_h * size_w)
        # (T+1, K, C, S, S) -> (T+1, K, h, d, S*S)
        raw = feats.view(frames, num_rois, heads, dim, size_h * size_w)
        # per head and cell: <e_t, e_key> / sqrt(d) -> (T+1, K, h, S*S)
        logits = torch.einsum('tkhdc,khdc->tkhc', emb, emb[0])
        attn = (logits / math.sqrt(dim)).softmax(dim=0)  # over T+1 frames
        out = torch.einsum('tkhc,tkhdc->khdc', attn, raw)  # (K, h, d, S*S)
        # (K, h, d, S*S) -> (K, C, S, S)
        return out.reshape(num_rois, channels, size_h, size_w)

    def extra_repr(self) -> str:
        return f'in_channels={self.in_channels}, num_heads={self.num_heads}'


AttentionArg = Union[TemporalAttention, Sequence[TemporalAttention], None]


def temporal_roi_align(roi_feats: Tensor,
                       support_feats: Optional[Tensor],
                       attention: AttentionArg,
                       topk: int = 2,
                       max_chunk_elems: int = DEFAULT_MAX_CHUNK_ELEMS
                       ) -> Tensor:
    """Temporal RoI Align: most similar RoI align, then temporal attention.

    Steps: ``aligned = most_similar_roi_align(roi_feats, support_feats)``
    (T, K, C, S, S), then

    * ``attention`` None (or an empty sequence): the plain mean of
      ``roi_feats`` and the T aligned features (T + 1 frames);
    * one :class:`TemporalAttention`: ``attention(roi_feats, aligned)``;
    * a sequence of blocks: stacked, block ``i + 1`` takes block ``i``'s
      output as its key; the support features are the same ``aligned`` for
      every block (aligned once, against the original ``roi_feats``).

    With no support frame (``support_feats`` None or T == 0) ``roi_feats``
    itself is returned, whatever ``attention`` is.

    Complexity: that of :func:`most_similar_roi_align` (which dominates) plus
    that of the attention blocks.

    Args:
        roi_feats (Tensor): (K, C, S, S) RoI features of the key frame.
        support_feats (Tensor, optional): (T, C, H, W) support feature maps.
        attention (TemporalAttention | Sequence[TemporalAttention] | None):
            the attention block(s).
        topk (int): see :func:`most_similar_roi_align`.
        max_chunk_elems (int): see :func:`most_similar_roi_align`.

    Returns:
        Tensor: (K, C, S, S) refined RoI features.
    """
    if support_feats is None or support_feats.size(0) == 0:
        return roi_feats
    aligned = most_similar_roi_align(roi_feats, support_feats, topk=topk,
                                     max_chunk_elems=max_chunk_elems)
    if isinstance(attention, TemporalAttention):
        attention = [attention]
    if not attention:
        # mean over the T+1 frames: (K, C, S, S)
        return (roi_feats + aligned.sum(0)) / (aligned.size(0) + 1)
    out = roi_feats
    for block in attention:
        out = block(out, aligned)
    return out


class TemporalRoIAlign(nn.Module):
    """Module wrapper of :func:`temporal_roi_align`.

    Owns ``num_attention_blocks`` :class:`TemporalAttention` blocks, stacked
    (block ``i + 1`` uses block ``i``'s output as its key, all blocks see the
    same aligned support features). ``num_attention_blocks=0`` gives the plain
    mean over the key and the T aligned features, without parameters (and
    ``num_heads`` is then not checked).

    Args:
        in_channels (int): C.
        topk (int): locations kept per RoI cell and support frame.
        num_heads (int): attention heads; must divide ``in_channels``.
        num_attention_blocks (int): stacked attention blocks, >= 0.
        max_chunk_elems (int): similarity chunk budget, in elements.
    """

    def __init__(self, *, in_channels: int, topk: int = 2,
                 num_heads: int = 4, num_attention_blocks: int = 1,
                 max_chunk_elems: int = DEFAULT_MAX_CHUNK_ELEMS):
        super().__init__()
        if topk < 1:
            raise ValueError(f'topk must be >= 1, got {topk}')
        if num_attention_blocks < 0:
            raise ValueError('num_attention_blocks must be >= 0, got '
                             f'{num_attention_blocks}')
        if max_chunk_elems < 1:
            raise ValueError(
                f'max_chunk_elems must be >= 1, got {max_chunk_elems}')
        self.in_channels = in_channels
        self.topk = topk
        self.num_heads = num_heads
        self.num_attention_blocks = num_attention_blocks
        self.max_chunk_elems = max_chunk_elems
        self.blocks = nn.ModuleList(
            TemporalAttention(in_channels=in_channels, num_heads=num_heads)
            for _ in range(num_attention_blocks))

    def forward(self, roi_feats: Tensor,
                support_feats: Optional[Tensor]) -> Tensor:
        """
        Args:
            roi_feats (Tensor): (K, C, S, S) RoI features of the key frame.
            support_feats (Tensor, optional): (T, C, H, W) support feature
                maps at the same level; None or T == 0 returns ``roi_feats``.

        Returns:
            Tensor: (K, C, S, S) refined RoI features.
        """
        if roi_feats.dim() != 4 or roi_feats.size(1) != self.in_channels:
            raise ValueError(
                f'roi_feats must be (K, {self.in_channels}, S, S), got shape '
                f'{tuple(roi_feats.shape)}')
        return temporal_roi_align(roi_feats, support_feats, self.blocks,
                                  topk=self.topk,
                                  max_chunk_elems=self.max_chunk_elems)

    def extra_repr(self) -> str:
        # nn.Module.__repr__ prints this line, then the attention blocks
        return (f'in_channels={self.in_channels}, topk={self.topk}, '
                f'num_heads={self.num_heads}, '
                f'num_attention_blocks={self.num_attention_blocks}, '
                f'max_chunk_elems={self.max_chunk_elems}')
