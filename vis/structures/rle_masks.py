"""Instance masks of one image kept as compressed RLE."""
from typing import List, Sequence, Union

import numpy as np
import pycocotools.mask as mask_utils
import torch
from torch import Tensor

__all__ = ['RLEMasks', 'dense_masks', 'mask_rles']


class RLEMasks:
    """N masks of an (height, width) image as compressed RLEs.

    A field type for ``InstanceData`` (it has ``__len__``, ``__getitem__``
    and ``cat``), so predictions can be indexed, filtered and concatenated
    as with a mask tensor while no full-frame mask is stored. Decode with
    :meth:`to_numpy` / :meth:`to_tensor` (or :func:`dense_masks`).

    Args:
        rles (list[dict]): N pycocotools RLEs ``{'size': [h, w], 'counts':
            bytes or str}``.
        height, width (int): the image size.
    """

    def __init__(self, rles: Sequence[dict], height: int, width: int):
        self.rles = list(rles)
        self.height, self.width = int(height), int(width)
        for rle in self.rles:
            if list(rle['size']) != [self.height, self.width]:
                raise ValueError(f'RLE of size {list(rle["size"])} in '
                                 f'RLEMasks of size {[height, width]}')

    def __len__(self) -> int:
        return len(self.rles)

    @property
    def shape(self) -> tuple:
        """(N, H, W), as the mask tensor's."""
        return (len(self.rles), self.height, self.width)

    def __repr__(self) -> str:
        return (f'RLEMasks(num_masks={len(self)}, height={self.height}, '
                f'width={self.width})')

    def __getitem__(self, index: Union[int, slice, Sequence, np.ndarray,
                                       Tensor]) -> 'RLEMasks':
        """The masks at ``index``: an int, a slice, indices, or an (N,) bool
        mask (list, ndarray or tensor). Always an ``RLEMasks``."""
        if isinstance(index, slice):
            picked = self.rles[index]
        elif isinstance(index, int):
            picked = [self.rles[index]]
        else:
            if isinstance(index, Tensor):
                index = index.cpu().numpy()
            index = np.asarray(index)
            if index.dtype == bool:
                if len(index) != len(self):
                    raise IndexError(f'bool index of length {len(index)} '
                                     f'for {len(self)} masks')
                index = np.nonzero(index)[0]
            picked = [self.rles[int(i)] for i in index.reshape(-1)]
        return RLEMasks(picked, self.height, self.width)

    def cat(self, parts: Sequence['RLEMasks']) -> 'RLEMasks':
        """Concatenate ``parts`` (masks of same-sized images)."""
        rles: List[dict] = []
        for part in parts:
            if (part.height, part.width) != (self.height, self.width):
                raise ValueError('cannot concatenate masks of images of '
                                 f'size {(part.height, part.width)} and '
                                 f'{(self.height, self.width)}')
            rles.extend(part.rles)
        return RLEMasks(rles, self.height, self.width)

    def areas(self) -> np.ndarray:
        """(N,) int64 pixel counts."""
        if not self.rles:
            return np.zeros(0, dtype=np.int64)
        return mask_utils.area(self.rles).astype(np.int64).reshape(-1)

    def to_numpy(self) -> np.ndarray:
        """(N, H, W) bool."""
        if not self.rles:
            return np.zeros((0, self.height, self.width), dtype=bool)
        decoded = mask_utils.decode(self.rles)  # (H, W, N) uint8
        return np.ascontiguousarray(decoded.transpose(2, 0, 1)).view(bool)

    def to_tensor(self, device='cpu') -> Tensor:
        """(N, H, W) bool tensor."""
        return torch.from_numpy(self.to_numpy()).to(device)

    def str_rles(self) -> List[dict]:
        """The RLEs with ``str`` counts (json-ready), as new dicts."""
        return [{'size': [self.height, self.width],
                 'counts': rle['counts'].decode('ascii')
                 if isinstance(rle['counts'], bytes) else rle['counts']}
                for rle in self.rles]

    @classmethod
    def from_dense(cls, masks: Union[np.ndarray, Tensor]) -> 'RLEMasks':
        """From (N, H, W) bool / 0-1 masks."""
        if isinstance(masks, Tensor):
            masks = masks.detach().cpu().numpy()
        num, height, width = masks.shape
        if num == 0:
            return cls([], height, width)
        # one copy into column-major (H, W, N), as pycocotools reads it
        masks = (masks.view(np.uint8) if masks.dtype == bool
                 else masks.astype(np.uint8))
        frame = np.asfortranarray(masks.transpose(1, 2, 0))
        return cls(mask_utils.encode(frame), height, width)


def dense_masks(masks: Union[RLEMasks, Tensor, np.ndarray]) -> np.ndarray:
    """(N, H, W) bool ndarray from an ``RLEMasks`` or a mask tensor/array."""
    if isinstance(masks, RLEMasks):
        return masks.to_numpy()
    if isinstance(masks, Tensor):
        masks = masks.detach().cpu().numpy()
    return masks.astype(bool, copy=False)


def mask_rles(masks: Union[RLEMasks, Tensor, np.ndarray]) -> List[dict]:
    """Compressed RLEs with ``str`` counts of an ``RLEMasks`` or (N, H, W)
    masks."""
    if not isinstance(masks, RLEMasks):
        masks = RLEMasks.from_dense(masks)
    return masks.str_rles()
