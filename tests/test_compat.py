"""Checkpoints load weights-only by default; full pickles need trust."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from vis.compat import (TRUST_ENV, UntrustedCheckpointError,
                        load_checkpoint_file)


class Payload:
    """Unpickling this runs code (it writes a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_mmengine_style_checkpoint_loads_weights_only(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.5)
    ckpt = dict(
        state_dict={'w': torch.ones(2)},
        meta=dict(epoch=3, seed=np.int64(7), classes=('a', 'b'),
                  arr=np.arange(3, dtype=np.float32)),
        message_hub=dict(log_scalars={'loss': buf}))
    path = tmp_path / 'ok.pth'
    torch.save(ckpt, path)
    out = _load_checkpoint(str(path), map_location='cpu')  # mmengine's API
    assert out['meta']['epoch'] == 3
    assert out['meta']['seed'] == 7
    np.testing.assert_array_equal(out['meta']['arr'], [0, 1, 2])
    assert out['message_hub']['log_scalars']['loss'].current() == 1.5
    torch.testing.assert_close(out['state_dict']['w'], torch.ones(2))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': Payload(str(marker))}, path,
               pickle_protocol=2)
    with pytest.raises(UntrustedCheckpointError, match='evil.pth'):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_trust_allows_a_legacy_full_pickle(tmp_path, monkeypatch):
    path = tmp_path / 'legacy.pth'
    torch.save({'state_dict': {}, 'cls': Payload}, path)  # a class object
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(str(path))
    monkeypatch.setenv(TRUST_ENV, '1')
    assert load_checkpoint_file(str(path))['cls'] is Payload


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_numpy1_pickled_checkpoint_loads_weights_only(tmp_path, monkeypatch):
    """A checkpoint saved under numpy 1.x names its arrays'
    reconstructors ``numpy.core.multiarray.*`` (numpy 2: ``numpy._core``);
    both load weights-only."""
    monkeypatch.delenv(TRUST_ENV, raising=False)
    ckpt = dict(state_dict={'w': torch.ones(2)},
                meta=dict(seed=np.int64(7),
                          arr=np.arange(3, dtype=np.float32)))
    path = tmp_path / 'numpy2.pth'
    # the legacy (non-zip) format keeps the pickle's GLOBAL opcodes as
    # newline-terminated text, so the module name can be rewritten in place
    torch.save(ckpt, path, _use_new_zipfile_serialization=False,
               pickle_protocol=2)
    data = path.read_bytes()
    assert b'numpy._core.multiarray\n' in data
    old = tmp_path / 'numpy1.pth'
    old.write_bytes(data.replace(b'numpy._core.multiarray\n',
                                 b'numpy.core.multiarray\n'))
    assert b'numpy._core' not in old.read_bytes()
    out = load_checkpoint_file(str(old))
    assert out['meta']['seed'] == 7
    np.testing.assert_array_equal(out['meta']['arr'], [0, 1, 2])
    torch.testing.assert_close(out['state_dict']['w'], torch.ones(2))
