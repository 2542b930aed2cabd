"""The tracked instances of one frame, as the streaming API returns them."""
from dataclasses import dataclass

import numpy as np


@dataclass
class FrameInstances:
    """Tracked instances of one frame, at the frame's own resolution.

    Attributes:
        boxes (ndarray): (N, 4) float32 as (x1, y1, x2, y2) in pixels.
        masks (ndarray): (N, H, W) bool.
        labels (ndarray): (N,) int64 class indices into ``class_names``.
        scores (ndarray): (N,) float32 detection scores.
        track_ids (ndarray): (N,) int64 track IDs, >= 1 and stable over the
            video (0 is left for background in ID masks).
        class_names (tuple[str]): names of the model's classes.
    """
    boxes: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray
    class_names: tuple

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> 'FrameInstances':
        """The instances where ``keep`` (N,) bool (or an index array) is
        set."""
        return FrameInstances(self.boxes[keep], self.masks[keep],
                              self.labels[keep], self.scores[keep],
                              self.track_ids[keep], self.class_names)

    def label_names(self) -> list:
        return [self.class_names[i] for i in self.labels]
