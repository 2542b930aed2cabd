"""How long a tracker remembers a track it no longer sees: in frames or in
seconds, one set of config keys for every tracker.

A tracker config names **one** of (both at once is an error; neither
gives the tracker's default, 20 frames for ``EmbeddingMemoryTracker``)

* ``num_frames_retain`` (int >= 1): frames a track survives without a
  match, counted in the frames the tracker is given;
* ``retain_seconds`` (float > 0): the same window in seconds of video,
  turned into frames once the frame rate is known.

The frames a tracker is given are the processed ones: with a frame stride
``N`` (every N-th frame of a ``fps`` video, as ``tools/demo_video.py
--frame-stride N`` does) consecutive processed frames lie ``N / fps``
seconds apart, so::

    frames = max(1, ceil(retain_seconds * fps / frame_stride))

e.g. 2.0 s of a 30 fps video at stride 3 is ceil(2.0 * 30 / 3) = 20 frames.

The frame rate comes from the config (``fps``, ``frame_stride`` next to
``retain_seconds``, e.g. ``fps=6`` for YouTube-VIS, whose annotated frames
are every 5th of a 30 fps video) or, at run time, from
:meth:`TrackRetention.set_frame_rate` (``VideoPredictor(fps=...)``, the
demo: the input's frame rate). There is **no default frame rate**:
``retain_seconds`` with no known frame rate raises a ``ValueError`` naming
the tracker when its first frame arrives.

The shipped configs name neither key (the tracker then keeps 20 frames,
MaskTrack R-CNN's window), so a config or ``--cfg-options
model.tracker.retain_seconds=2`` can set either without clearing the
other; ``tools/demo_video.py --retain-seconds / --retain-frames`` set one
and clear the other.

Trackers get this by inheriting :class:`TrackRetention` and calling
``TrackRetention.__init__`` with the four keys; they then read the window
as ``self.num_frames_retain``.
"""
import math
from numbers import Integral, Real
from typing import Optional

__all__ = ['retain_frames', 'TrackRetention']


def _check_frame_rate(fps: Optional[float], frame_stride: int,
                      owner: str) -> None:
    if fps is not None and (not isinstance(fps, Real) or isinstance(
            fps, bool) or not math.isfinite(fps) or fps <= 0):
        raise ValueError(f'{owner}: fps must be a finite number > 0, got '
                         f'{fps!r}')
    if (not isinstance(frame_stride, Integral) or isinstance(
            frame_stride, bool) or frame_stride < 1):
        raise ValueError(f'{owner}: frame_stride must be an int >= 1, got '
                         f'{frame_stride!r}')


def _check_window(num_frames_retain: Optional[int],
                  retain_seconds: Optional[float], owner: str) -> None:
    if (num_frames_retain is None) == (retain_seconds is None):
        raise ValueError(
            f'{owner}: give exactly one of num_frames_retain (frames) and '
            f'retain_seconds (seconds), got num_frames_retain='
            f'{num_frames_retain!r}, retain_seconds={retain_seconds!r}')
    if num_frames_retain is not None and (
            not isinstance(num_frames_retain, Integral)
            or isinstance(num_frames_retain, bool) or num_frames_retain < 1):
        raise ValueError(f'{owner}: num_frames_retain must be an int >= 1, '
                         f'got {num_frames_retain!r}')
    if retain_seconds is not None and (
            not isinstance(retain_seconds, Real)
            or isinstance(retain_seconds, bool)
            or not math.isfinite(retain_seconds) or retain_seconds <= 0):
        raise ValueError(f'{owner}: retain_seconds must be a finite number '
                         f'> 0, got {retain_seconds!r}')


def retain_frames(num_frames_retain: Optional[int] = None,
                  retain_seconds: Optional[float] = None,
                  fps: Optional[float] = None, frame_stride: int = 1,
                  owner: str = 'tracker') -> int:
    """The retain window in processed frames.

    Args:
        num_frames_retain (int, optional): the window in frames (returned
            as it is).
        retain_seconds (float, optional): the window in seconds.
        fps (float, optional): frame rate of the source video; needed with
            ``retain_seconds``.
        frame_stride (int): every ``frame_stride``-th source frame is
            processed.
        owner (str): named in the error messages.

    Returns:
        int: ``num_frames_retain``, or
        ``max(1, ceil(retain_seconds * fps / frame_stride))``.

    Raises:
        ValueError: not exactly one of the two windows, a bad value, or
            ``retain_seconds`` without ``fps``.
    """
    _check_window(num_frames_retain, retain_seconds, owner)
    _check_frame_rate(fps, frame_stride, owner)
    if num_frames_retain is not None:
        return int(num_frames_retain)
    if fps is None:
        raise ValueError(
            f'{owner}: retain_seconds={retain_seconds} needs the frame rate '
            'of the video: set fps (and frame_stride) in the tracker config, '
            'call set_frame_rate(fps, frame_stride) before the first frame, '
            'pass VideoPredictor(fps=...), or use num_frames_retain')
    # a small tolerance so that e.g. 0.7 s * 30 fps = 21.000000000000004
    # stays 21 frames
    frames = math.ceil(retain_seconds * fps / frame_stride - 1e-9)
    return max(1, int(frames))


class TrackRetention:
    """Mixin for trackers: the retain window in frames or seconds.

    Args:
        num_frames_retain (int, optional): frames a track survives without
            a match.
        retain_seconds (float, optional): the same in seconds of video.
        fps (float, optional): frame rate of the source video, if the
            config knows it (otherwise :meth:`set_frame_rate`).
        frame_stride (int): every ``frame_stride``-th source frame reaches
            the tracker.

    Exactly one of ``num_frames_retain`` and ``retain_seconds`` is given.
    """

    def __init__(self, num_frames_retain: Optional[int] = None,
                 retain_seconds: Optional[float] = None,
                 fps: Optional[float] = None, frame_stride: int = 1) -> None:
        owner = type(self).__name__
        _check_window(num_frames_retain, retain_seconds, owner)
        _check_frame_rate(fps, frame_stride, owner)
        self._retain_frames_arg = num_frames_retain
        self.retain_seconds = retain_seconds
        self.fps = fps
        self.frame_stride = int(frame_stride)

    def set_frame_rate(self, fps: Optional[float],
                       frame_stride: int = 1) -> None:
        """Tell the tracker the source's frame rate and which frames it gets
        (every ``frame_stride``-th); converts ``retain_seconds`` to frames.
        With ``num_frames_retain`` the window stays that many processed
        frames. ``fps`` None forgets the rate."""
        _check_frame_rate(fps, frame_stride, type(self).__name__)
        self.fps = fps
        self.frame_stride = int(frame_stride)

    @property
    def num_frames_retain(self) -> int:
        """The window in processed frames (raises ``ValueError`` for
        ``retain_seconds`` while the frame rate is unknown)."""
        return retain_frames(self._retain_frames_arg, self.retain_seconds,
                             self.fps, self.frame_stride,
                             owner=type(self).__name__)

    def retention_repr(self) -> str:
        """The window as configured, e.g. ``'2.0 s (20 frames at 30 fps /
        3)'`` or ``'20 frames'``."""
        if self.retain_seconds is None:
            return f'{self._retain_frames_arg} frames'
        if self.fps is None:
            return f'{self.retain_seconds} s (frame rate not set)'
        return (f'{self.retain_seconds} s ({self.num_frames_retain} frames at '
                f'{self.fps:g} fps / {self.frame_stride})')
