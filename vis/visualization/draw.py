"""Drawing of tracked instances: one stable colour per track id."""
import colorsys
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

_GOLDEN = 0.618033988749895


def track_colour(track_id: int) -> Tuple[int, int, int]:
    """A BGR colour that depends only on ``track_id``; neighbouring ids get
    distant hues (golden-ratio steps around the hue circle)."""
    hue = (int(track_id) * _GOLDEN) % 1.0
    sat = 0.65 + 0.35 * ((int(track_id) * 7 % 5) / 4)
    r, g, b = colorsys.hsv_to_rgb(hue, sat, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_instances(image: np.ndarray, masks: np.ndarray,
                   track_ids: Sequence[int], labels: Sequence[str],
                   scores: Optional[Sequence[float]] = None,
                   alpha: float = 0.45) -> np.ndarray:
    """Draw translucent filled masks, contours and ``label id score`` tags.

    Args:
        image (ndarray): (H, W, 3) uint8 BGR frame.
        masks (ndarray): (N, H, W) bool masks.
        track_ids: N track ids (they choose the colours).
        labels: N class names.
        scores: N scores, or None (ground truth).
        alpha (float): mask opacity.

    Returns:
        ndarray: (H, W, 3) uint8, a new image.
    """
    out = image.astype(np.float32)
    for mask, tid in zip(masks, track_ids):
        colour = np.array(track_colour(tid), np.float32)
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
    out = out.astype(np.uint8)
    # labels of higher-scoring instances are drawn last, so they stay legible
    order = range(len(masks)) if scores is None else \
        np.argsort(np.asarray(scores, np.float64), kind='stable')
    for i in order:
        mask, tid = masks[i], track_ids[i]
        if not mask.any():
            continue
        colour = track_colour(tid)
        contours, _ = cv2.findContours(mask.astype(np.uint8),
                                       cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour, 1, cv2.LINE_AA)
        ys, xs = np.nonzero(mask)
        text = f'{labels[i]} #{tid}'
        if scores is not None:
            text += f' {scores[i]:.2f}'
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
        x = min(int(xs.min()), max(out.shape[1] - tw - 3, 0))
        y = max(int(ys.min()) - 3, th + 2)
        cv2.rectangle(out, (x, y - th - 2), (x + tw + 2, y + 2), colour, -1)
        cv2.putText(out, text, (x + 1, y), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return out


def title_panels(panels: Sequence[np.ndarray],
                 titles: Sequence[str]) -> list:
    """Write a title in the top-left corner of each panel (on a dark strip,
    inside the image, so the panel keeps its size)."""
    out = []
    for panel, title in zip(panels, titles):
        panel = panel.copy()
        (tw, th), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        strip = panel[:th + 6, :tw + 6]
        strip[:] = (strip * 0.35).astype(np.uint8)
        cv2.putText(panel, title, (3, th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)
        out.append(panel)
    return out
