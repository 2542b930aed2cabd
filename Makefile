# Set-up and the main jobs. Everything runs in .venv inside the checkout.
#   make install     create .venv and install the pinned stack (idempotent)
#   make quickstart  install, generate synthetic videos, train, test, visualise
#   make test        install, then run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DATA ?= data/synthetic_ytvis
QS_CONFIG ?= configs/quickstart_synthetic.py
QS_WORK ?= work_dirs/quickstart_synthetic

.PHONY: install quickstart data test clean-venv

install: $(STAMP)

# The order matters: mmcv 2.1.0 has no wheels on PyPI and is built from
# source against the installed torch (--no-build-isolation), which needs
# setuptools<70 (pkg_resources). pip keeps the built wheel in its cache, so a
# second fresh install takes seconds.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q 'setuptools<70' wheel
	$(PIP) install -q numpy==2.4.6 mmengine==0.10.7 opencv-python-headless==5.0.0.93
	MMCV_WITH_OPS=1 MAX_JOBS=$$(nproc) $(PIP) install --no-build-isolation mmcv==2.1.0
	grep -v '^trackeval' requirements.txt > $(VENV)/requirements-deps.txt
	$(PIP) install -q -r $(VENV)/requirements-deps.txt
	$(PIP) install -q --no-deps $$(grep '^trackeval' requirements.txt)
	$(PY) -c "import mmcv.ops, mmdet, trackeval, vis; print('stack OK: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__)"
	$(PY) -c "import vis.evaluation.rle_native as r; print('RLE kernel:', r.build())" || echo "RLE kernel not built (see above): the YouTube-VIS evaluator will use pycocotools alone"
	$(PY) -c "import vis.evaluation.band_native as b; print('boundary band kernel:', b.build())" || echo "boundary band kernel not built (see above): Boundary AP will compute bands with numpy (slower)"
	$(PY) -c "import vis.ops.roi_align_native as r; print('RoIAlign kernel:', r.build())" || echo "RoIAlign kernel not built (see above): inference will use mmcv's RoIAlign"
	touch $(STAMP)

data: install
	$(PY) tools/dataset_converters/make_synthetic_ytvis.py --out $(DATA)

quickstart: install
	test -f $(DATA)/valid.json || $(PY) tools/dataset_converters/make_synthetic_ytvis.py --out $(DATA)
	$(PY) tools/train.py $(QS_CONFIG) --work-dir $(QS_WORK)
	$(PY) tools/test.py $(QS_CONFIG) $$(cat $(QS_WORK)/last_checkpoint) --work-dir $(QS_WORK) --metrics ap hota
	$(PY) tools/visualize.py $(QS_WORK)/results.json $(DATA)/valid/JPEGImages --gt $(DATA)/valid.json --out-dir $(QS_WORK)/vis --side-by-side --max-videos 3 --score-thr 0.5

test: install
	$(PY) -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
