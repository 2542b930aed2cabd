"""Tests of vis.ops.temporal_roi_align against naive loop references."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from vis.ops import (TemporalAttention, TemporalRoIAlign,
                     most_similar_roi_align, temporal_roi_align)
from vis.ops.temporal_roi_align import _chunk_plan

TOL = dict(rtol=1e-10, atol=1e-10)
EPS = 1e-12  # norm clamp of the op's cosine similarity


# --------------------------------------------------------------- references
def ref_most_similar(x, s, topk):
    """Loop over frame, RoI and cell; cosines against all H*W locations."""
    num_rois, channels, size, _ = x.shape
    num_frames, _, height, width = s.shape
    k = min(topk, height * width)
    out = x.new_zeros(num_frames, num_rois, channels, size, size)
    for t in range(num_frames):
        locs = s[t].reshape(channels, height * width)  # (C, N)
        loc_norms = locs.norm(dim=0).clamp_min(EPS)  # (N,)
        for r in range(num_rois):
            for i in range(size):
                for j in range(size):
                    q = x[r, :, i, j]  # (C,)
                    cos = (locs * q[:, None]).sum(0) / (
                        q.norm().clamp_min(EPS) * loc_norms)  # (N,)
                    vals, idx = cos.topk(k)
                    w = vals.softmax(0)
                    out[t, r, :, i, j] = (locs[:, idx] * w).sum(1)
    return out


def ref_attention(key, support, weight, bias, num_heads):
    """Loop over RoI, head and cell, with the conv done by F.conv2d."""
    frames = [key] + list(support)
    embs = [F.conv2d(f, weight, bias, padding=1) for f in frames]
    num_rois, channels, size, _ = key.shape
    dim = channels // num_heads
    out = torch.zeros_like(key)
    for r in range(num_rois):
        for h in range(num_heads):
            ch = slice(h * dim, (h + 1) * dim)
            for i in range(size):
                for j in range(size):
                    e_key = embs[0][r, ch, i, j]
                    logits = torch.stack([
                        (e[r, ch, i, j] * e_key).sum() / math.sqrt(dim)
                        for e in embs
                    ])
                    a = logits.softmax(0)
                    out[r, ch, i, j] = sum(
                        a[t] * f[r, ch, i, j] for t, f in enumerate(frames))
    return out


def ref_troi(x, s, module):
    aligned = ref_most_similar(x, s, module.topk)
    if len(module.blocks) == 0:
        return (x + aligned.sum(0)) / (s.size(0) + 1)
    out = x
    for block in module.blocks:
        out = ref_attention(out, aligned, block.conv.weight, block.conv.bias,
                            block.num_heads)
    return out


def make_inputs(num_rois, channels, size, num_frames, height, width,
                dtype=torch.float64, seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_rois, channels, size, size, generator=gen,
                    dtype=dtype)
    s = torch.randn(num_frames, channels, height, width, generator=gen,
                    dtype=dtype)
    return x.requires_grad_(requires_grad), s.requires_grad_(requires_grad)


def make_module(channels, topk=2, num_heads=2, blocks=1, std=0.3, seed=0,
                **kwargs):
    """float64 module whose conv is far from the near-mean init."""
    torch.manual_seed(seed)
    module = TemporalRoIAlign(in_channels=channels, topk=topk,
                              num_heads=num_heads,
                              num_attention_blocks=blocks, **kwargs).double()
    for block in module.blocks:
        torch.nn.init.normal_(block.conv.weight, std=std)
        torch.nn.init.normal_(block.conv.bias, std=std)
    return module


# (K, C, S, T, H, W, topk, heads)
SHAPES = [
    (3, 8, 2, 2, 3, 4, 2, 2),
    (2, 4, 3, 3, 2, 5, 1, 4),  # topk=1, one channel per head
    (2, 6, 2, 2, 2, 2, 6, 3),  # topk > H*W
    (4, 4, 1, 1, 4, 3, 2, 1),  # T=1, S=1
    (1, 5, 3, 2, 3, 3, 3, 5),  # odd C
]


# ---------------------------------------------------- comparison with loops
@pytest.mark.parametrize('shape', SHAPES)
def test_most_similar_matches_reference(shape):
    num_rois, channels, size, frames, height, width, topk, _ = shape
    x, s = make_inputs(num_rois, channels, size, frames, height, width)
    out = most_similar_roi_align(x, s, topk=topk)
    assert out.shape == (frames, num_rois, channels, size, size)
    torch.testing.assert_close(out, ref_most_similar(x, s, topk), **TOL)


@pytest.mark.parametrize('blocks', [1, 2])
@pytest.mark.parametrize('shape', SHAPES)
def test_temporal_roi_align_matches_reference(shape, blocks):
    num_rois, channels, size, frames, height, width, topk, heads = shape
    x, s = make_inputs(num_rois, channels, size, frames, height, width)
    module = make_module(channels, topk=topk, num_heads=heads, blocks=blocks)
    out = module(x, s)
    assert out.shape == x.shape
    torch.testing.assert_close(out, ref_troi(x, s, module), **TOL)


def test_attention_module_matches_reference():
    x, _ = make_inputs(3, 8, 3, 0, 1, 1)
    support = torch.randn(4, 3, 8, 3, 3, dtype=torch.float64)
    attn = TemporalAttention(in_channels=8, num_heads=4).double()
    torch.nn.init.normal_(attn.conv.weight, std=0.3)
    out = attn(x, support)
    ref = ref_attention(x, support, attn.conv.weight, attn.conv.bias, 4)
    torch.testing.assert_close(out, ref, **TOL)


def test_non_contiguous_inputs():
    x, s = make_inputs(3, 4, 2, 2, 5, 4)
    x_nc = x.transpose(2, 3).contiguous().transpose(2, 3)
    s_nc = s.transpose(2, 3).contiguous().transpose(2, 3)
    assert not x_nc.is_contiguous() and not s_nc.is_contiguous()
    torch.testing.assert_close(most_similar_roi_align(x_nc, s_nc),
                               ref_most_similar(x, s, 2), **TOL)


# ------------------------------------------------------------- hand-worked
def hand_inputs():
    """C=2, one RoI of one cell, one support frame of H*W=3 locations."""
    x = torch.tensor([1.0, 0.0], dtype=torch.float64).view(1, 2, 1, 1)
    # locations (1, 0): cos 1; (0, 2): cos 0; (-3, 0): cos -1
    s = torch.tensor([[1.0, 0.0, -3.0], [0.0, 2.0, 0.0]],
                     dtype=torch.float64).view(1, 2, 1, 3)
    return x, s


def test_hand_worked_example():
    x, s = hand_inputs()
    # top-2 cosines (1, 0) -> softmax: e/(e+1), 1/(e+1); raw features
    # 0.7310585786300049 * (1, 0) + 0.2689414213699951 * (0, 2)
    aligned = most_similar_roi_align(x, s, topk=2)
    expected = [0.7310585786300049, 0.5378828427399902]
    torch.testing.assert_close(
        aligned.flatten(), torch.tensor(expected, dtype=torch.float64), **TOL)
    # topk=1 takes the (1, 0) location alone
    torch.testing.assert_close(
        most_similar_roi_align(x, s, topk=1).flatten(),
        torch.tensor([1.0, 0.0], dtype=torch.float64), **TOL)
    # mean of the key (1, 0) and the aligned feature
    mean = temporal_roi_align(x, s, None)
    torch.testing.assert_close(
        mean.flatten(),
        torch.tensor([0.8655292893150024, 0.2689414213699951],
                     dtype=torch.float64), **TOL)
    # identity conv, one head (d=2): logits 1/sqrt(2), 0.73105.../sqrt(2)
    # = 0.7071067811865475, 0.5169364783938752 -> softmax
    # 0.5473998115552939, 0.45260018844470606 over (key, aligned)
    attn = TemporalAttention(in_channels=2, num_heads=1).double()
    with torch.no_grad():
        attn.conv.weight.zero_()
        attn.conv.weight[:, :, 1, 1] = torch.eye(2)
        attn.conv.bias.zero_()
    out = temporal_roi_align(x, s, attn)
    torch.testing.assert_close(
        out.flatten(),
        torch.tensor([0.8782770620073531, 0.24344587598529377],
                     dtype=torch.float64), **TOL)


# --------------------------------------------------------------- gradients
@pytest.mark.parametrize('topk,chunk', [(2, 2**25), (1, 1), (20, 7)])
def test_gradcheck_most_similar(topk, chunk):
    x, s = make_inputs(2, 3, 2, 2, 3, 3, seed=1, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: most_similar_roi_align(a, b, topk=topk,
                                            max_chunk_elems=chunk), (x, s))


@pytest.mark.parametrize('blocks', [0, 1, 2])
def test_gradcheck_temporal_roi_align(blocks):
    x, s = make_inputs(2, 4, 2, 2, 3, 3, seed=2, requires_grad=True)
    module = make_module(4, num_heads=2, blocks=blocks, max_chunk_elems=10)
    names = [name for name, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_(True)
              for p in module.parameters()]
    assert len(names) == 2 * blocks

    def fn(a, b, *ps):
        return functional_call(module, dict(zip(names, ps)), (a, b))

    assert torch.autograd.gradcheck(fn, (x, s, *params))


def test_chunking_matches_unchunked():
    x, s = make_inputs(5, 4, 3, 3, 4, 5, seed=3, requires_grad=True)
    grads = []
    outs = []
    # 1: one cell of one frame per chunk; 60: 3 cells; 1000: 2 frames;
    # default: everything at once
    for chunk in [1, 60, 1000, 2**25]:
        out = most_similar_roi_align(x, s, topk=3, max_chunk_elems=chunk)
        gx, gs = torch.autograd.grad((out * out).sum(), (x, s))
        outs.append(out)
        grads.append((gx, gs))
    for out, (gx, gs) in zip(outs[:-1], grads[:-1]):
        torch.testing.assert_close(out, outs[-1], **TOL)
        torch.testing.assert_close(gx, grads[-1][0], **TOL)
        torch.testing.assert_close(gs, grads[-1][1], **TOL)


@pytest.mark.parametrize('frames,cells,locs,budget', [
    (14, 9800, 14400, 2**25), (3, 10, 4, 1), (3, 10, 4, 1000),
    (3, 10, 4, 45), (1, 7, 100, 250), (5, 0, 6, 100)])
def test_chunk_plan_respects_budget(frames, cells, locs, budget):
    frames_step, cells_step = _chunk_plan(frames, cells, locs, budget)
    assert frames_step >= 1 and cells_step >= 1
    assert frames_step * cells_step * locs <= max(budget, locs)
    # either whole frames (all cells) or one frame at a time
    assert cells_step >= cells or frames_step == 1


# -------------------------------------------------------------- edge cases
@pytest.mark.parametrize('blocks', [0, 1, 2])
def test_no_support_returns_input(blocks):
    x, s = make_inputs(3, 4, 2, 2, 3, 3)
    module = make_module(4, blocks=blocks)
    assert module(x, None) is x
    assert module(x, s[:0]) is x
    assert temporal_roi_align(x, s[:0], None) is x
    assert temporal_roi_align(x, None, module.blocks) is x


@pytest.mark.parametrize('blocks', [0, 1])
def test_zero_rois_forward_backward(blocks):
    x, s = make_inputs(0, 4, 3, 2, 3, 3, requires_grad=True)
    module = make_module(4, blocks=blocks)
    aligned = most_similar_roi_align(x, s)
    assert aligned.shape == (2, 0, 4, 3, 3)
    out = module(x, s)
    assert out.shape == (0, 4, 3, 3)
    out.sum().backward()
    assert x.grad.shape == x.shape
    assert torch.equal(s.grad, torch.zeros_like(s))
    for p in module.parameters():
        assert torch.equal(p.grad, torch.zeros_like(p))


def test_zero_attention_blocks_is_mean():
    x, s = make_inputs(3, 4, 2, 3, 3, 4)
    module = make_module(4, blocks=0)
    assert len(list(module.parameters())) == 0
    aligned = ref_most_similar(x, s, 2)
    mean = torch.cat([x[None], aligned]).mean(0)
    torch.testing.assert_close(module(x, s), mean, **TOL)
    torch.testing.assert_close(temporal_roi_align(x, s, None), mean, **TOL)
    torch.testing.assert_close(temporal_roi_align(x, s, []), mean, **TOL)


def test_init_is_near_mean_but_trainable():
    x, s = make_inputs(4, 16, 3, 3, 4, 4, seed=5)
    torch.manual_seed(0)
    module = TemporalRoIAlign(in_channels=16, num_heads=4).double()
    mean = temporal_roi_align(x, s, None)
    out = module(x, s)
    diff = (out - mean).abs().max() / mean.abs().max()
    assert 0 < diff < 0.1
    out.square().sum().backward()
    assert module.blocks[0].conv.weight.grad.abs().max() > 0


def test_float32_close_to_float64():
    x, s = make_inputs(3, 8, 2, 2, 4, 4, seed=6)
    module = make_module(8, num_heads=4)
    out64 = module(x, s)
    out32 = module.float()(x.float(), s.float())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), out64, rtol=1e-4, atol=1e-5)


def test_value_errors():
    with pytest.raises(ValueError, match='divisible by num_heads'):
        TemporalAttention(in_channels=6, num_heads=4)
    with pytest.raises(ValueError, match='divisible by num_heads'):
        TemporalRoIAlign(in_channels=6, num_heads=4)
    TemporalRoIAlign(in_channels=6, num_heads=4, num_attention_blocks=0)
    with pytest.raises(ValueError, match='topk'):
        TemporalRoIAlign(in_channels=4, topk=0)
    with pytest.raises(ValueError, match='num_attention_blocks'):
        TemporalRoIAlign(in_channels=4, num_attention_blocks=-1)
    x, s = make_inputs(2, 4, 2, 2, 3, 3)
    with pytest.raises(ValueError, match='channel mismatch'):
        most_similar_roi_align(x, s[:, :3])
    with pytest.raises(ValueError, match='topk'):
        most_similar_roi_align(x, s, topk=0)
    with pytest.raises(ValueError, match=r'roi_feats must be \(K, 8'):
        TemporalRoIAlign(in_channels=8, num_heads=2)(x, s)


def test_repr_has_settings():
    module = TemporalRoIAlign(in_channels=8, topk=3, num_heads=2,
                              num_attention_blocks=2, max_chunk_elems=1234)
    text = repr(module)
    for setting in ['in_channels=8', 'topk=3', 'num_heads=2',
                    'num_attention_blocks=2', 'max_chunk_elems=1234']:
        assert setting in text
    assert 'TemporalAttention(' in text


def test_gradients_match_reference_autograd():
    """Analytic (sparse) backward vs autograd through the loop reference.
    topk = H*W: with an all-zero RoI cell, an all-zero support location and
    one of norm < 1e-12 (clamped norms: no projection term in the gradient);
    all locations are kept, so ties between the zero similarities do not
    matter. topk = 2: generic inputs."""
    for topk in [6, 2]:
        x, s = make_inputs(2, 3, 2, 2, 2, 3, seed=7)
        if topk == 6:
            x[1, :, 0, 1] = 0
            s[1, :, 0, 0] = 0
            s[0, :, 1, 2] *= 1e-13 / s[0, :, 1, 2].norm()
        x.requires_grad_(True)
        s.requires_grad_(True)
        out = most_similar_roi_align(x, s, topk=topk, max_chunk_elems=7)
        ref = ref_most_similar(x, s, topk)
        torch.testing.assert_close(out, ref, **TOL)
        weight = torch.randn(out.shape, dtype=out.dtype,
                             generator=torch.Generator().manual_seed(topk))
        grads = torch.autograd.grad((out * weight).sum(), (x, s))
        ref_grads = torch.autograd.grad((ref * weight).sum(), (x, s))
        for got, exp in zip(grads, ref_grads):
            torch.testing.assert_close(got, exp, **TOL)
