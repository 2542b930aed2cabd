"""Peak memory and time of the Temporal RoI Align op (vis.ops).

Case: 200 RoIs x 14 support frames, C=256, S=7, on FPN level 0 (stride 4)
of a 640x360 input, i.e. support maps of H x W = 90 x 160.

Every measurement runs in a fresh subprocess (so peaks do not mix):

* ``op_fwd``: ``TemporalRoIAlign(in_channels=256)`` forward under no_grad;
* ``op_fwdbwd``: forward + backward (grads of both inputs and the conv);
* ``base_fwd`` / ``base_fwdbwd``: the plain RoIAlign baseline, mmcv's
  ``roi_align`` of the 200 RoIs on the key frame's level-0 map (what a
  detector without temporal RoI align computes), same two modes.

Peak extra memory = ``ru_maxrss`` after the run minus the resident set size
after allocating the inputs (and after a tiny warm-up run). Time is the best
of ``--repeats`` runs. The op module file is loaded on its own (no mmdet
import), so imports do not set the process's peak.

If CUDA is available (and ``--skip-cuda`` is not given) a last subprocess
compares CUDA with CPU outputs and gradients on a mid-size case (float64 and
float32) and times the big case on CUDA (peak from
``torch.cuda.max_memory_allocated``).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/troi_op_memory.py [--threads N]
        [--repeats R] [--small] [--skip-cuda]
"""
import argparse
import gc
import importlib.util
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OP_FILE = osp.join(ROOT, 'vis', 'ops', 'temporal_roi_align.py')
MB = 2**20
LIMIT_BYTES = 2 * 2**30  # requirement: the big case fits in 2 GB

BIG = dict(rois=200, frames=14, channels=256, size=7, height=90, width=160,
           img_h=360, img_w=640, stride=4)
SMALL = dict(rois=20, frames=3, channels=64, size=7, height=23, width=40,
             img_h=90, img_w=160, stride=4)
MID = dict(rois=50, frames=4, channels=64, size=7, height=45, width=80,
           img_h=180, img_w=320, stride=4)


def load_op():
    """Import vis/ops/temporal_roi_align.py alone (only needs torch)."""
    spec = importlib.util.spec_from_file_location('troi_op', OP_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rss_bytes():
    """Current resident set size."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def maxrss_bytes():
    """Peak resident set size of this process so far (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def random_rois(case, gen, torch):
    """(K, 5) [batch, x1, y1, x2, y2] boxes of 16..256 px in the image."""
    num = case['rois']
    wh = torch.rand(num, 2, generator=gen) * 240 + 16
    xy = torch.rand(num, 2, generator=gen) * (
        torch.tensor([case['img_w'], case['img_h']]) - wh)
    return torch.cat([torch.zeros(num, 1), xy, xy + wh], dim=1)


def make_op_inputs(case, torch, dtype, device='cpu', grad=False, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(case['rois'], case['channels'], case['size'],
                    case['size'], generator=gen, dtype=dtype)
    s = torch.randn(case['frames'], case['channels'], case['height'],
                    case['width'], generator=gen, dtype=dtype)
    x, s = x.to(device), s.to(device)
    return x.requires_grad_(grad), s.requires_grad_(grad)


def worker(name, case, repeats):
    """One measurement; prints a JSON line."""
    import torch
    torch.manual_seed(0)
    grad = name.endswith('fwdbwd')
    if name.startswith('op'):
        op = load_op()
        module = op.TemporalRoIAlign(in_channels=case['channels'])

        def make(c):
            return make_op_inputs(c, torch, torch.float32, grad=grad)

        def run(inputs):
            x, s = inputs
            with torch.set_grad_enabled(grad):
                out = module(x, s)
                if grad:
                    out.sum().backward()
            return out
    else:
        try:
            from mmcv.ops import roi_align
            impl = 'mmcv.ops.roi_align'
        except ImportError:  # fall back to a copy of (K, C, S, S) values
            roi_align, impl = None, 'copy (mmcv.ops unavailable)'

        def make(c):
            gen = torch.Generator().manual_seed(0)
            feat = torch.randn(1, c['channels'], c['height'], c['width'],
                               generator=gen).requires_grad_(grad)
            return feat, random_rois(c, gen, torch)

        def run(inputs):
            feat, rois = inputs
            with torch.set_grad_enabled(grad):
                if roi_align is not None:
                    out = roi_align(feat, rois, (case['size'], case['size']),
                                    1.0 / case['stride'], 0, 'avg', True)
                else:
                    out = feat[..., :case['size'], :case['size']].expand(
                        len(rois), -1, -1, -1).clone()
                if grad:
                    out.sum().backward()
            return out

    run(make(dict(case, rois=2, frames=1, height=8, width=8)))  # warm-up
    inputs = make(case)
    gc.collect()
    rss0, maxrss0 = rss_bytes(), maxrss_bytes()
    times = []
    for _ in range(repeats):
        for t in inputs:
            t.grad = None
        start = time.perf_counter()
        out = run(inputs)
        times.append(time.perf_counter() - start)
        del out
    maxrss1 = maxrss_bytes()
    result = dict(name=name, time_s=min(times),
                  peak_extra_mb=max(0, maxrss1 - rss0) / MB,
                  inputs_rss_mb=rss0 / MB,
                  masked=maxrss1 <= maxrss0,  # peak not above earlier peak
                  threads=torch.get_num_threads())
    if not name.startswith('op'):
        result['impl'] = impl
    print(json.dumps(result))


def cuda_worker(case, repeats):
    """CUDA vs CPU on a mid-size case, then CUDA timing of ``case``."""
    import torch
    op = load_op()
    report = {}
    for dtype, tol in [(torch.float64, 1e-9), (torch.float32, 1e-3)]:
        torch.manual_seed(0)
        cpu = op.TemporalRoIAlign(in_channels=MID['channels']).to(dtype)
        gpu = op.TemporalRoIAlign(in_channels=MID['channels']).to(dtype)
        gpu.load_state_dict(cpu.state_dict())
        gpu.cuda()
        res = []
        for module, device in [(cpu, 'cpu'), (gpu, 'cuda')]:
            x, s = make_op_inputs(MID, torch, dtype, device, grad=True)
            out = module(x, s)
            gx, gs = torch.autograd.grad(out.square().sum(), (x, s))
            res.append([t.detach().cpu() for t in (out, gx, gs)])
        diffs = [(a - b).abs().max().item() for a, b in zip(*res)]
        # fraction of output values off by > tol (top-k near-ties in float32)
        off = ((res[0][0] - res[1][0]).abs() > tol).double().mean().item()
        report[str(dtype)] = dict(max_abs_diff_out=diffs[0],
                                  max_abs_diff_grad_x=diffs[1],
                                  max_abs_diff_grad_s=diffs[2],
                                  frac_out_off=off, tol=tol)
    torch.manual_seed(0)
    module = op.TemporalRoIAlign(in_channels=case['channels']).cuda()
    for grad in (False, True):
        x, s = make_op_inputs(case, torch, torch.float32, 'cuda', grad=grad)
        times = []
        for i in range(repeats + 1):  # first run is a warm-up
            x.grad = s.grad = None
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            start = time.perf_counter()
            with torch.set_grad_enabled(grad):
                out = module(x, s)
                if grad:
                    out.sum().backward()
            torch.cuda.synchronize()
            if i:
                times.append(time.perf_counter() - start)
            peak = torch.cuda.max_memory_allocated() - base
            del out
        report['big_' + ('fwdbwd' if grad else 'fwd')] = dict(
            time_s=min(times), peak_extra_mb=peak / MB)
        del x, s
    report['device'] = torch.cuda.get_device_name()
    print(json.dumps(report))


def spawn(args, name):
    cmd = [sys.executable, osp.abspath(__file__), '--worker', name,
           '--repeats', str(args.repeats)]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    if args.small:
        cmd.append('--small')
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f'worker {name} failed ({proc.returncode})')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads (default: torch default)')
    parser.add_argument('--repeats', type=int, default=1)
    parser.add_argument('--small', action='store_true',
                        help='a small case, to smoke-test the script')
    parser.add_argument('--skip-cuda', action='store_true')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    case = SMALL if args.small else BIG
    if args.worker:
        if args.threads:
            import torch
            torch.set_num_threads(args.threads)
        if args.worker == 'cuda':
            cuda_worker(case, args.repeats)
        else:
            worker(args.worker, case, args.repeats)
        return

    k, t, c, s = case['rois'], case['frames'], case['channels'], case['size']
    hw = case['height'] * case['width']
    print(f'Temporal RoI Align: K={k} RoIs, T={t} support frames, C={c}, '
          f'S={s}, support {case["height"]}x{case["width"]} '
          f'(stride {case["stride"]} of {case["img_w"]}x{case["img_h"]}), '
          'float32, CPU')
    print(f'  full similarity tensor (never built): T*K*S^2*H*W = '
          f'{t * k * s * s * hw:,} elements = '
          f'{t * k * s * s * hw * 4 / 2**30:.2f} GiB; aligned (T, K, C, S, S) '
          f'{t * k * c * s * s * 4 / MB:.1f} MiB; output '
          f'{k * c * s * s * 4 / MB:.1f} MiB; support input '
          f'{t * c * hw * 4 / MB:.1f} MiB')
    results = {}
    for name in ['base_fwd', 'op_fwd', 'base_fwdbwd', 'op_fwdbwd']:
        results[name] = spawn(args, name)
        r = results[name]
        print(f'  {name:12s} time {r["time_s"]:8.3f} s   peak extra '
              f'{r["peak_extra_mb"]:8.1f} MiB'
              f'{" (<=, masked by an earlier peak)" if r["masked"] else ""}'
              f'   [threads {r["threads"]}'
              f'{", " + r["impl"] if "impl" in r else ""}]', flush=True)
    print('Ratios op / RoIAlign baseline:')
    for mode in ['fwd', 'fwdbwd']:
        op, base = results['op_' + mode], results['base_' + mode]
        mem_ratio = op['peak_extra_mb'] / max(base['peak_extra_mb'], 1e-3)
        print(f'  {mode:7s} time x{op["time_s"] / base["time_s"]:.1f}   '
              f'memory x{mem_ratio:.1f}')
    worst = max(results[n]['peak_extra_mb'] for n in ['op_fwd', 'op_fwdbwd'])
    verdict = 'PASS' if worst * MB <= LIMIT_BYTES else 'FAIL'
    print(f'Requirement: op peak extra memory <= 2 GiB: {verdict} '
          f'(worst {worst:.1f} MiB)')

    import torch
    if torch.cuda.is_available() and not args.skip_cuda:
        r = spawn(args, 'cuda')
        print(f'CUDA ({r.pop("device")}):')
        for key, val in r.items():
            print(f'  {key}: ' + ', '.join(
                f'{k2}={v:.3g}' for k2, v in val.items()))
    else:
        print('CUDA: not available (or --skip-cuda), skipped')


if __name__ == '__main__':
    main()
