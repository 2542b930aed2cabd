"""Plot the loss curves (and validation metrics) of a training work dir.

    python tools/plot_logs.py WORK_DIR [--keys loss loss_track] [--out PNG]

Reads every ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (a resumed run
continues the same curves) and writes ``WORK_DIR/loss_curves.png`` unless
``--out`` says otherwise. Prints the last value of each curve.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from vis.visualization.log_curves import (loss_keys,  # noqa: E402
                                          plot_log_curves, read_scalars)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('work_dir', help='a training work dir')
    parser.add_argument('--keys', nargs='+', metavar='KEY',
                        help='training curves to draw (default: loss and '
                        'its parts loss_*)')
    parser.add_argument('--out', help='PNG to write (default: '
                        'WORK_DIR/loss_curves.png)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    try:
        train, val = read_scalars(args.work_dir)
        out = args.out or osp.join(args.work_dir, 'loss_curves.png')
        tmp = osp.join(osp.dirname(osp.abspath(out)),
                       '.' + osp.basename(out) + '.partial.png')
        keys = plot_log_curves(train, val, tmp, keys=args.keys,
                               title=osp.basename(osp.abspath(args.work_dir)))
        os.replace(tmp, out)
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise SystemExit(f'error: {err.args[0] if err.args else err}'
                         ) from None
    for key in keys:
        step, value = train[key][-1]
        print(f'{key:>24s}: {value:.4f} at iteration {step}')
    for key in sorted(val):
        step, value = val[key][-1]
        print(f'{key:>24s}: {value:.4f} at epoch {step}')
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
