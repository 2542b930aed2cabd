"""The Python half of tools/gpu_check.sh: the tests marked ``gpu``, one
training iteration per config and precision, inference frames/s, one table.

    python benchmarks/gpu_check.py --device cuda --out-dir DIR \
        [--build built|prebuilt|failed|skipped] [--build-seconds S] \
        [--deadline UNIX_TIME]
    python benchmarks/gpu_check.py --device cpu --dry-run --out-dir DIR
    python benchmarks/gpu_check.py --check-wheels .whl

Steps, in this order (each one's failure is a row of the table, not the end
of the run):

1. ``pytest -m gpu tests/test_device.py`` (skipped tests without CUDA);
2. training: one iteration (after ``--train-iters - 1`` warm-up ones) of
   ``configs/masktrack_r50.py`` and ``configs/masktrack_x101_troi.py``, in
   fp32 and with AMP (mmengine's ``AmpOptimWrapper``, float16), on generated
   YouTube-VIS-layout videos (``vis.datasets.synthetic``) at 640x360, from
   random weights (``load_from`` and every checkpoint init_cfg set to
   None: nothing can be downloaded there): loss, seconds, peak memory;
3. inference: ``VideoPredictor`` (network, tracking, copy to the host) of
   R50, X101 and X101+TRoI at 640x360 with random weights and the box
   score threshold at 0, so every frame has ``max_per_img`` (100)
   detections, the worst case for the mask branch: frames/s after warm-up
   frames, peak memory.

``--dry-run`` runs the same steps on the CPU at tiny sizes (160x96 frames,
one training iteration, one timed frame) to prove the script end to end.
The table goes to stdout and ``OUT_DIR/gpu_check.txt`` (rewritten after
every step, so a run stopped at its time limit keeps what it measured), the
numbers to ``OUT_DIR/gpu_check.json``. ``--deadline`` skips the steps left
once the time is spent (marked in the table).

Importing this module needs neither a GPU nor mmcv/mmdet (they are imported
inside the steps), so ``--check-wheels`` runs anywhere.
"""
import argparse
import json
import math
import os
import os.path as osp
import random
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

TRAIN_CONFIGS = (('masktrack_r50', 'configs/masktrack_r50.py'),
                 ('masktrack_x101_troi', 'configs/masktrack_x101_troi.py'))
INFER_CONFIGS = (('R50', 'configs/masktrack_r50.py'),
                 ('X101', 'configs/masktrack_x101.py'),
                 ('X101+TRoI', 'configs/masktrack_x101_troi.py'))
#: (width, height) of the frames: the configs' test scale, and the dry run's
FULL_SIZE = (640, 360)
TINY_SIZE = (160, 96)

#: packages the device image has (docs/gpu_check.md), by normalised name;
#: opencv-python (mmengine's and mmcv's requirement) is met by the image's
#: opencv-python-headless
DEVICE_PACKAGES = frozenset("""
torch numpy scipy opencv-python opencv-python-headless pillow matplotlib
pyyaml rich packaging six tqdm pytest ninja psutil requests setuptools wheel
typing-extensions filelock jinja2 sympy networkx fsspec pygments
markdown-it-py mdurl contourpy cycler fonttools kiwisolver pyparsing
python-dateutil importlib-metadata zipp tomli regex
""".split())


# ------------------------------------------------------------------ table
class Report:
    """Rows of the table, written out after every step."""

    HEAD = ('step', 'result', 'time', 'peak mem', 'note')

    def __init__(self, out_dir: str, env: Dict[str, str]) -> None:
        self.out_dir = out_dir
        self.env = env
        self.rows: List[Tuple[str, str, str, str, str]] = []
        self.records: List[dict] = []

    def add(self, step: str, result: str, time_text: str = '',
            memory: str = '', note: str = '', **record) -> None:
        self.rows.append((step, result, time_text, memory, note))
        self.records.append(dict(step=step, result=result, time=time_text,
                                 memory=memory, note=note, **record))
        self.write()

    def table(self) -> str:
        widths = [max(len(r[i]) for r in (self.HEAD, *self.rows))
                  for i in range(len(self.HEAD))]
        line = lambda r: '  '.join(  # noqa: E731
            c.ljust(w) for c, w in zip(r, widths)).rstrip()
        head = ' | '.join(f'{k} {v}' for k, v in self.env.items())
        rule = '-' * max(len(head), sum(widths) + 2 * (len(widths) - 1))
        return '\n'.join([head, rule, line(self.HEAD), rule]
                         + [line(r) for r in self.rows] + [rule])

    def write(self) -> None:
        with open(osp.join(self.out_dir, 'gpu_check.txt'), 'w') as f:
            f.write(self.table() + '\n')
        with open(osp.join(self.out_dir, 'gpu_check.json'), 'w') as f:
            json.dump(dict(env=self.env, steps=self.records), f, indent=1)


def seconds_text(seconds: float) -> str:
    return f'{seconds:.2f} s' if seconds < 100 else f'{seconds:.0f} s'


def memory_text(num_bytes: Optional[int]) -> str:
    return '' if num_bytes is None else f'{num_bytes / 2**30:.2f} GiB'


def short_error(err: BaseException) -> str:
    text = f'{type(err).__name__}: {err}'.replace('\n', ' ')
    return text if len(text) <= 160 else text[:157] + '...'


# ------------------------------------------------------------ environment
def environment(device: str) -> Dict[str, str]:
    """Versions and the accelerator, for the table's head."""
    import torch
    env = {'python': sys.version.split()[0], 'torch': torch.__version__,
           'device': device}
    if device.startswith('cuda'):
        env['device'] = torch.cuda.get_device_name(0)
        env['cuda'] = str(torch.version.cuda)
    try:
        import mmcv
        from mmcv.ops import get_compiling_cuda_version
        env['mmcv'] = f'{mmcv.__version__} (ops CUDA ' \
                      f'{get_compiling_cuda_version()})'
        import mmdet
        env['mmdet'] = mmdet.__version__
    except Exception as err:  # reported, the steps then fail by name
        env['mmcv'] = f'unavailable ({short_error(err)})'
    return env


class Clock:
    """Wall time of a step, the device synchronised on both ends, and the
    peak device memory it allocated (CUDA only)."""

    def __init__(self, device: str) -> None:
        import torch
        self.torch = torch
        self.cuda = device.startswith('cuda')

    def __enter__(self):
        if self.cuda:
            self.torch.cuda.synchronize()
            self.torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start
        self.peak = (self.torch.cuda.max_memory_allocated()
                     if self.cuda else None)


# -------------------------------------------------------------- gpu tests
def run_gpu_tests(report: Report, timeout: float) -> None:
    """``pytest -m gpu tests/test_device.py``; the summary line is the
    result (all skipped without CUDA)."""
    cmd = [sys.executable, '-m', 'pytest', '-q', '-m', 'gpu',
           '-p', 'no:cacheprovider', 'tests/test_device.py']
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        output, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as err:
        output = (err.stdout or b'').decode() if isinstance(
            err.stdout, bytes) else (err.stdout or '')
        output, rc = output + f'\ntimed out after {timeout:.0f} s', -1
    seconds = time.perf_counter() - start
    with open(osp.join(report.out_dir, 'gpu_tests.log'), 'w') as f:
        f.write(output)
    summary = [line for line in output.splitlines()
               if re.search(r'\d+ (passed|failed|skipped|error)', line)]
    result = summary[-1].strip('= ') if summary else f'rc {rc}'
    report.add('gpu tests (pytest -m gpu)', result, seconds_text(seconds),
               note='' if rc in (0, 5) else 'FAILED: see gpu_tests.log',
               rc=rc, seconds=seconds)


# --------------------------------------------------------------- configs
def without_pretrained(node):
    """Every ``init_cfg`` that loads a checkpoint (``Pretrained``,
    ``DetectorCheckpointInit``) set to None, recursively (the weights
    cannot be downloaded on the device)."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key == 'init_cfg' and isinstance(value, dict) and \
                    value.get('type') in ('Pretrained',
                                          'DetectorCheckpointInit'):
                node[key] = None
            else:
                without_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            without_pretrained(item)
    return node


def set_resize_scale(pipeline: list, size: Tuple[int, int]) -> None:
    """Every ``Resize`` of a pipeline (nested in TransformBroadcaster too)
    to ``size`` (w, h)."""
    for step in pipeline:
        if step.get('type') == 'Resize':
            step['scale'] = tuple(size)
        if 'transforms' in step:
            set_resize_scale(step['transforms'], size)


def load_config(path: str, size: Tuple[int, int]):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, path))
    cfg.load_from = None
    without_pretrained(cfg.model)
    for key in ('train_pipeline', 'test_pipeline'):
        if key in cfg:
            set_resize_scale(cfg[key], size)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            set_resize_scale(cfg[loader].dataset.pipeline, size)
            cfg[loader].num_workers = 0
            cfg[loader].persistent_workers = False
    return cfg


# ----------------------------------------------------------------- train
def train_step(report: Report, name: str, config: str, amp: bool,
               data_root: str, device: str, size: Tuple[int, int],
               iters: int) -> None:
    """``iters`` training iterations (the last one timed) of ``config``
    from random weights on one generated sample."""
    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmdet.registry import DATASETS, MODELS
    from vis.config_utils import apply_data_root
    title = f'train {name} {"amp" if amp else "fp32"}'
    if amp and not device.startswith('cuda'):
        report.add(title, 'skipped', note='AmpOptimWrapper needs a GPU '
                   '(mmengine); runs on the device')
        return
    cfg = load_config(config, size)
    apply_data_root(cfg, data_root, test_split=None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device).train()
    optim_cfg = dict(cfg.optim_wrapper)
    if amp:
        optim_cfg.update(type='AmpOptimWrapper', dtype='float16',
                         loss_scale='dynamic')
    optim = build_optim_wrapper(model, optim_cfg)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    random.seed(0)  # the same reference frame and flip in every row
    np.random.seed(0)
    batch = pseudo_collate([dataset[(0, 1)]])
    for _ in range(iters):
        with Clock(device) as clock:
            log_vars = model.train_step(batch, optim)
    loss = float(torch.as_tensor(log_vars['loss']).detach())
    if not math.isfinite(loss):
        raise FloatingPointError(f'the loss is {loss} after {iters} '
                                 'iterations')
    report.add(title, f'loss {loss:.3f}', f'{clock.seconds:.3f} s/it',
               memory_text(clock.peak),
               f'{iters - 1} warm-up it' if iters > 1 else '',
               loss=loss, seconds=clock.seconds, peak_bytes=clock.peak)
    del model, optim
    if device.startswith('cuda'):
        torch.cuda.empty_cache()


# ------------------------------------------------------------- inference
def random_checkpoint(config: str, size: Tuple[int, int], path: str) -> None:
    """The config's model with random weights (seed 0) saved as a
    checkpoint with its class names, as training saves one."""
    import torch
    from mmdet.registry import MODELS
    cfg = load_config(config, size)
    num = cfg.model.detector.roi_head.bbox_head.num_classes
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    classes = [f'class{i}' for i in range(num)]
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))), path)


def video_frames(data_root: str) -> List:
    """The frames (H, W, 3) BGR of the first generated valid video."""
    import cv2
    with open(osp.join(data_root, 'valid.json')) as f:
        video = json.load(f)['videos'][0]
    return [cv2.imread(osp.join(data_root, 'valid', 'JPEGImages', name))
            for name in video['file_names']]


def infer_step(report: Report, name: str, config: str, data_root: str,
               device: str, size: Tuple[int, int], warmup: int, timed: int,
               work_dir: str) -> None:
    """Frames/s of ``VideoPredictor`` over ``timed`` frames after
    ``warmup`` frames."""
    import torch
    from vis.apis import VideoPredictor
    ckpt = osp.join(work_dir, 'random.pth')
    random_checkpoint(config, size, ckpt)
    cfg = load_config(config, size)
    cfg.model.detector.test_cfg.rcnn.score_thr = 0.0  # max_per_img boxes
    predictor = VideoPredictor(cfg, ckpt, device=device)
    os.remove(ckpt)
    frames = video_frames(data_root)
    needed = warmup + timed
    frames = (frames * (needed // len(frames) + 1))[:needed]
    seconds, detections = [], []
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    for i, image in enumerate(frames):
        out = predictor.predict_frame(image)  # ends with a host copy
        if i >= warmup:
            seconds.append(predictor.last_model_seconds)
            detections.append(len(out))
    peak = (torch.cuda.max_memory_allocated()
            if device.startswith('cuda') else None)
    median = statistics.median(seconds)
    report.add(f'infer {name} {size[0]}x{size[1]}',
               f'{1 / median:.1f} frames/s', f'{median * 1000:.1f} ms/frame',
               memory_text(peak),
               f'{timed} frames after {warmup} warm-up, '
               f'{statistics.mean(detections):.0f} dets/frame',
               fps=1 / median, median_seconds=median,
               detections=statistics.mean(detections), peak_bytes=peak)
    del predictor
    if device.startswith('cuda'):
        torch.cuda.empty_cache()


# ------------------------------------------------------------------ main
def run(args) -> int:
    import torch
    device = args.device
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit('gpu_check: --device cuda but CUDA is not '
                         'available (use --dry-run --device cpu here)')
    os.makedirs(args.out_dir, exist_ok=True)
    size = TINY_SIZE if args.dry_run else FULL_SIZE
    train_iters = args.train_iters or (1 if args.dry_run else 2)
    warmup = 0 if args.dry_run else args.warmup
    timed = 1 if args.dry_run else args.frames
    report = Report(args.out_dir, environment(device))
    failed = False
    if args.build:
        report.add('build mmcv 2.1.0 (CUDA ops)', args.build,
                   seconds_text(args.build_seconds) if args.build_seconds
                   else '', note='log: mmcv_build.log'
                   if args.build in ('built', 'failed') else '')
        failed |= args.build == 'failed'
    if 'mmcv' in report.env and report.env['mmcv'].startswith('unavail'):
        report.add('all steps', 'not run', note=report.env['mmcv'])
        print(report.table())
        return 1

    def time_left() -> float:
        return math.inf if args.deadline is None else \
            args.deadline - time.time()

    def step(title: str, fn, *fn_args, reserve: float = 20.0) -> None:
        nonlocal failed
        if time_left() < reserve:
            report.add(title, 'skipped', note='time budget spent')
            return
        try:
            fn(*fn_args)
        except Exception as err:  # a row, and the next step runs
            failed = True
            report.add(title, 'FAILED', note=short_error(err))
            import traceback
            with open(osp.join(args.out_dir, 'errors.log'), 'a') as f:
                f.write(f'--- {title}\n{traceback.format_exc()}\n')
        print(report.rows[-1], flush=True)

    import warnings
    from mmengine.logging import MMLogger
    for message in ('pkg_resources is deprecated',
                    'DeprecationWarning: bboxes is deprecated',
                    'DeprecationWarning: pos_bboxes is deprecated'):
        warnings.filterwarnings('ignore', message=message)
    # the current logger, at WARNING: no per-parameter init_weights lines
    MMLogger.get_instance('gpu_check', log_level='WARNING')
    import vis  # noqa: F401
    from mmdet.utils import register_all_modules
    from vis.datasets.synthetic import make_synthetic_ytvis
    register_all_modules(init_default_scope=True)
    with tempfile.TemporaryDirectory(prefix='gpu_check_') as work:
        data_root = osp.join(work, 'data')
        make_synthetic_ytvis(data_root, num_train=2, num_valid=1,
                             num_frames=6, height=size[1], width=size[0],
                             seed=0)
        if not args.skip_tests:
            step('gpu tests (pytest -m gpu)', run_gpu_tests, report,
                 max(30.0, min(240.0, time_left() - 60)), reserve=60)
            failed |= report.records[-1].get('rc', 0) not in (0, 5)
        for name, config in TRAIN_CONFIGS:
            for amp in (False, True):
                step(f'train {name} {"amp" if amp else "fp32"}', train_step,
                     report, name, config, amp, data_root, device, size,
                     train_iters)
        for name, config in INFER_CONFIGS:
            step(f'infer {name} {size[0]}x{size[1]}', infer_step, report,
                 name, config, data_root, device, size, warmup, timed, work)
    print(report.table())
    return 1 if failed else 0


# ----------------------------------------------------------- wheel check
def normalise(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


def wheel_requirements(path: str) -> Tuple[str, str, List[str]]:
    """(name, version, Requires-Dist lines) of a wheel or an sdist."""
    if path.endswith('.whl'):
        with zipfile.ZipFile(path) as zf:
            meta = next(n for n in zf.namelist()
                        if n.endswith('.dist-info/METADATA'))
            text = zf.read(meta).decode()
        name = re.search(r'^Name: (.+)$', text, re.M).group(1).strip()
        version = re.search(r'^Version: (.+)$', text, re.M).group(1).strip()
        reqs = re.findall(r'^Requires-Dist: (.+)$', text, re.M)
        return name, version, reqs
    with tarfile.open(path) as tf:  # an sdist: its runtime requirements
        top = tf.getnames()[0].split('/')[0]
        name, version = top.rsplit('-', 1)
        member = tf.extractfile(f'{top}/requirements/runtime.txt')
        reqs = [line.strip() for line in member.read().decode().splitlines()
                if line.strip() and not line.startswith('#')]
    return name, version, reqs


def check_wheels(folder: str) -> int:
    """Each project once, and every requirement (for CPython 3.12 on x86-64
    Linux, extras left out) met by the folder or the device image."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    env = dict(default_environment(), python_version='3.12',
               python_full_version='3.12.3', sys_platform='linux',
               platform_system='Linux', platform_machine='x86_64',
               implementation_name='cpython', extra='')
    files = sorted(f for f in os.listdir(folder)
                   if f.endswith(('.whl', '.tar.gz')))
    if not files:
        print(f'{folder}: no wheels')
        return 1
    have: Dict[str, str] = {}
    problems = []
    reqs_of = {}
    kinds: Dict[str, str] = {}  # project -> 'wheel' or 'sdist'
    for name in files:
        project, version, reqs = wheel_requirements(osp.join(folder, name))
        key = normalise(project)
        kind = 'wheel' if name.endswith('.whl') else 'sdist'
        if key in have and (kinds[key] == kind or have[key] != version):
            # a built wheel next to its own sdist is fine (the wheel wins)
            problems.append(f'{project} twice: {have[key]} and {version}')
        have[key] = version
        kinds[key] = 'wheel' if 'wheel' in (kind, kinds.get(key)) else kind
        reqs_of[f'{project} {version}'] = reqs
    for owner, reqs in reqs_of.items():
        for line in reqs:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            key = normalise(req.name)
            if key in have:
                if have[key] not in req.specifier and req.specifier:
                    problems.append(f'{owner} needs {req}, {folder} has '
                                    f'{req.name} {have[key]}')
            elif key not in DEVICE_PACKAGES:
                problems.append(f'{owner} needs {req}: neither in {folder} '
                                'nor on the device')
    for project in ('mmcv', 'mmengine', 'mmdet', 'pycocotools'):
        if project not in have:
            problems.append(f'{project} missing from {folder}')
    print(f'{folder}: ' + ', '.join(f'{k} {v}' for k, v in
                                    sorted(have.items())))
    for problem in problems:
        print(f'  problem: {problem}')
    print(f'{folder}: ' + ('complete' if not problems else
                           f'{len(problems)} problems'))
    return 1 if problems else 0


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--dry-run', action='store_true',
                        help='tiny sizes, 1 iteration, 1 timed frame')
    parser.add_argument('--out-dir', default='gpu_check_out')
    parser.add_argument('--build', choices=('built', 'prebuilt', 'failed',
                                            'skipped'),
                        help='how tools/gpu_check.sh got mmcv (a row)')
    parser.add_argument('--build-seconds', type=float, default=0.0)
    parser.add_argument('--deadline', type=float,
                        help='unix time after which steps are skipped')
    parser.add_argument('--train-iters', type=int,
                        help='training iterations per row, the last timed '
                        '(default 2; 1 with --dry-run)')
    parser.add_argument('--warmup', type=int, default=5,
                        help='inference warm-up frames')
    parser.add_argument('--frames', type=int, default=30,
                        help='timed inference frames')
    parser.add_argument('--skip-tests', action='store_true')
    parser.add_argument('--check-wheels', metavar='DIR',
                        help='only check a wheel folder for the device')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.check_wheels:
        return check_wheels(args.check_wheels)
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
