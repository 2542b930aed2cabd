"""Save the detector of a trained video model as a plain mmdet checkpoint.

    python tools/export_detector.py VIDEO_CKPT OUT.pth

The keys lose their ``detector.`` prefix (mmdet's own names: ``backbone.*``,
``roi_head.*``), the track head is left out, and the class names stay in
``meta.dataset_meta.classes``. The file then loads into mmdet
(``mmdet.apis.init_detector`` with the matching mmdet config), is tracked
without training by ``tools/test.py`` / ``tools/demo_video.py`` with that
config, and starts another video model through ``tools/train.py CONFIG
--load-detector OUT.pth``. Written atomically.
"""
import argparse
import os
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

import torch  # noqa: E402
from mmengine.runner.checkpoint import CheckpointLoader  # noqa: E402

import vis  # noqa: E402,F401
from vis.config_utils import checkpoint_classes  # noqa: E402
from vis.engine.checkpoint import partial_path, publish  # noqa: E402
from vis.models.detector_init import split_detector_state  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('checkpoint', help='a video model checkpoint')
    parser.add_argument('out', help='the plain detector checkpoint to write')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    ckpt = CheckpointLoader.load_checkpoint(args.checkpoint,
                                            map_location='cpu',
                                            logger='silent')
    if not isinstance(ckpt, dict):
        raise SystemExit(f'error: {args.checkpoint} is not a checkpoint')
    state = ckpt.get('state_dict', ckpt)
    if not any(k.split('.', 1)[0] in ('detector', 'module')
               for k in state):
        raise SystemExit(f'error: {args.checkpoint} holds no detector. '
                         'tensors: it is not a video model checkpoint')
    detector = split_detector_state(state)
    classes = checkpoint_classes(ckpt.get('meta'))
    meta = dict(dataset_meta=dict(classes=list(classes))) if classes else {}
    if not classes:
        print(f'warning: {args.checkpoint} stores no class names; the '
              'detector config must name them', file=sys.stderr)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    partial = partial_path(args.out)
    torch.save(dict(state_dict=detector, meta=meta), partial)
    publish(partial, args.out)
    print(f'wrote {args.out}: {len(detector)} detector tensors'
          + (f', classes {", ".join(classes)}' if classes else ''))


if __name__ == '__main__':
    main()
