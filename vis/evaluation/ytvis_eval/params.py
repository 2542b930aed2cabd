"""Evaluation parameters of YouTube-VIS: statistics, area ranges, IoU and
recall thresholds (bit-identical to the official ones)."""

import numpy as np

STAT_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10',
              'AR100', 'ARs', 'ARm', 'ARl')

#: (label, (min_area, max_area)) of the four area ranges, bounds inclusive.
AREA_RANGES = (
    ('all', (0.0, 1e10)),
    ('small', (0.0, 128.0**2)),
    ('medium', (128.0**2, 256.0**2)),
    ('large', (256.0**2, 1e10)),
)
AREA_LABELS = tuple(label for label, _ in AREA_RANGES)

#: The 10 IoU thresholds .50:.05:.95 (bit-identical to the official ones).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
#: The 101 recall thresholds 0:.01:1.
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
