"""Text table of the summary statistics."""

from __future__ import annotations

from typing import Dict, Sequence


def format_stats_table(
        stats: Dict[str, float],
        columns: Sequence[str] = ('AP', 'AP50', 'AP75', 'AR1', 'AR10'),
) -> str:
    """Render selected stats as a small aligned text table.

    Values are shown x100 with one decimal; undefined values (-1) as ``n/a``.

    Example::

        YouTube-VIS (values x100)
          AP  AP50  AP75   AR1  AR10
        ----  ----  ----  ----  ----
        45.3  67.1  50.2  40.1  52.3
    """
    cells = []
    for name in columns:
        value = float(stats[name])
        cells.append('n/a' if value < 0 else f'{100.0 * value:.1f}')
    widths = [max(len(n), len(c)) for n, c in zip(columns, cells)]
    header = '  '.join(n.rjust(w) for n, w in zip(columns, widths))
    rule = '  '.join('-' * w for w in widths)
    row = '  '.join(c.rjust(w) for c, w in zip(cells, widths))
    return '\n'.join(['YouTube-VIS (values x100)', header, rule, row])
