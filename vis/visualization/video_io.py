"""Reading frames from videos, folders and cameras; writing MP4 and GIF.

Everything streams: a source yields one frame at a time and the writers
keep at most one frame, so videos longer than memory would hold work.
"""
import os
import os.path as osp
from typing import Iterable, Iterator, Optional, Tuple, Union

import cv2
import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')


class FrameSourceError(RuntimeError):
    """A video, folder or camera cannot be read."""


class FrameSource:
    """Frames of an mp4 (or any video OpenCV decodes), a folder of images
    (sorted by name) or a camera.

    Iterating yields ``(index, name, image)`` with ``image`` (H, W, 3) uint8
    BGR, ``index`` the frame's index in the source and ``name`` a file-name
    stem that keeps frame order (the image's own name for a folder,
    ``000123`` = the source index otherwise). With ``frame_stride`` N only
    the source frames 0, N, 2N, ... are yielded; the others are skipped
    without being decoded (a folder's files are not read, a video's frames
    are only grabbed).

    Args:
        source (str | int): a video file, a folder of frames, or a camera
            index (an int, or a string of digits).
        max_frames (int, optional): read at most this many source frames (a
            camera never ends on its own); with a stride, fewer are yielded.
        frame_stride (int): yield every ``frame_stride``-th source frame.

    Attributes:
        fps (float): the source's frame rate, 25.0 when it reports none.
        fps_known (bool): whether the source reported its frame rate (a
            video file or camera that gives one; never a folder).
        num_frames (int | None): frames that iterating yields, when known.
        num_source_frames (int | None): source frames it reads, when known.

    Raises:
        FrameSourceError: the source does not exist, holds no frames or its
            first frame cannot be decoded; a later frame that cannot be
            decoded raises while iterating, naming the frame.
        ValueError: ``frame_stride`` < 1 or ``max_frames`` < 0.
    """

    def __init__(self, source: Union[str, int],
                 max_frames: Optional[int] = None,
                 frame_stride: int = 1) -> None:
        if int(frame_stride) != frame_stride or frame_stride < 1:
            raise ValueError(f'frame_stride must be an int >= 1, got '
                             f'{frame_stride!r}')
        if max_frames is not None and max_frames < 0:
            raise ValueError(f'max_frames must be >= 0, got {max_frames}')
        self.source = source
        self.max_frames = max_frames
        self.frame_stride = int(frame_stride)
        self.files = None
        self.fps = 25.0
        self.fps_known = False
        self.num_source_frames: Optional[int] = None
        if isinstance(source, int) or str(source).isdigit():
            self.kind = 'camera'
            self._open_capture(int(source), f'camera {source}')
        elif osp.isdir(source):
            self.kind = 'folder'
            self.files = sorted(
                f for f in os.listdir(source)
                if f.lower().endswith(IMAGE_EXTENSIONS))
            if not self.files:
                raise FrameSourceError(
                    f'{source}: no image files ({", ".join(IMAGE_EXTENSIONS)})')
            self.num_source_frames = len(self.files)
        elif osp.isfile(source):
            self.kind = 'video'
            self._open_capture(source, source)
            count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
            self.num_source_frames = count if count > 0 else None
        else:
            raise FrameSourceError(f'{source}: no such video file, folder or '
                                   'camera index')
        if self.max_frames is not None and self.num_source_frames is not None:
            self.num_source_frames = min(self.num_source_frames,
                                         self.max_frames)
        self.num_frames: Optional[int] = None
        if self.num_source_frames is not None:
            # ceil: source frames 0, N, 2N, ... below the count
            self.num_frames = -(-self.num_source_frames // self.frame_stride)

    def _open_capture(self, target, what: str) -> None:
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            raise FrameSourceError(f'{what}: cannot be opened as a video')
        ok, frame = capture.read()
        if not ok or frame is None:
            capture.release()
            raise FrameSourceError(f'{what}: cannot decode its first frame '
                                   '(corrupt, empty or not a video)')
        fps = capture.get(cv2.CAP_PROP_FPS)
        if fps and 0 < fps < 1000:
            self.fps = float(fps)
            self.fps_known = True
        self._capture, self._first = capture, frame

    def __len__(self) -> int:
        if self.num_frames is None:
            raise TypeError(f'{self.source}: the number of frames is unknown')
        return self.num_frames

    def __iter__(self) -> Iterator[Tuple[int, str, np.ndarray]]:
        frames = self._folder_frames() if self.files is not None else \
            self._capture_frames()
        for index, name, image in frames:
            yield index, name, image

    def _wanted(self, index: int) -> bool:
        return index % self.frame_stride == 0

    def _folder_frames(self):
        for i, name in enumerate(self.files):
            if self.max_frames is not None and i >= self.max_frames:
                return
            if not self._wanted(i):
                continue
            path = osp.join(self.source, name)
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                raise FrameSourceError(f'{path} (frame {i}): cannot be read '
                                       'as an image')
            yield i, osp.splitext(name)[0], image

    def _capture_frames(self):
        capture = self._capture
        index = 0  # source frames read so far
        try:
            ok = True
            while ok and (self.max_frames is None
                          or index < self.max_frames):
                if index == 0:
                    frame = self._first
                    self._first = None
                elif self._wanted(index):
                    ok, frame = capture.read()
                else:
                    ok, frame = capture.grab(), None  # skipped: not decoded
                if not ok or (self._wanted(index) and frame is None):
                    break
                if self._wanted(index):
                    yield index, f'{index:06d}', frame
                index += 1
        finally:
            capture.release()
        if (self.kind == 'video' and self.num_source_frames is not None
                and index < self.num_source_frames):
            raise FrameSourceError(
                f'{self.source}: decoding stopped at frame {index} of '
                f'{self.num_source_frames} (truncated or corrupt video)')


class Mp4Writer:
    """Writes frames to an MP4 file (MPEG-4 part 2, which every OpenCV
    build can encode); opened at the first frame, whose size all frames
    must share."""

    def __init__(self, path: str, fps: float) -> None:
        self.path, self.fps = path, fps
        self._writer = None
        self.size = None
        self.count = 0

    def write(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        if self._writer is None:
            os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
            self._writer = cv2.VideoWriter(
                self.path, cv2.VideoWriter_fourcc(*'mp4v'), self.fps, (w, h))
            if not self._writer.isOpened():
                raise RuntimeError(f'{self.path}: OpenCV cannot write MP4 '
                                   'here (no mp4v encoder)')
            self.size = (w, h)
        elif (w, h) != self.size:
            raise ValueError(f'{self.path}: frame {self.count} is {w}x{h}, '
                             f'the video is {self.size[0]}x{self.size[1]}')
        self._writer.write(np.ascontiguousarray(image))
        self.count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_gif(path: str, frames: Iterable[np.ndarray], fps: float,
              max_width: int = 480) -> int:
    """Encode BGR frames as a looping GIF, streaming (one frame in memory).

    Frames wider than ``max_width`` are scaled down (GIFs are for looking,
    not measuring). Returns the number of frames written (0 writes no
    file).
    """
    def to_pil(image: np.ndarray) -> Image.Image:
        h, w = image.shape[:2]
        if w > max_width:
            image = cv2.resize(image, (max_width, round(h * max_width / w)),
                               interpolation=cv2.INTER_AREA)
        return Image.fromarray(image[:, :, ::-1])

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return 0
    count = 1

    def rest():
        nonlocal count
        for image in frames:
            count += 1
            yield to_pil(image)

    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    to_pil(first).save(path, save_all=True, append_images=rest(),
                       duration=max(int(round(1000 / fps)), 20), loop=0)
    return count
