#!/usr/bin/env bash
# One GPU check of the project on a lent GPU machine, in one run: build mmcv
# 2.1.0 with CUDA, run the tests marked `gpu`, one training iteration of
# configs/masktrack_r50.py and configs/masktrack_x101_troi.py (fp32 and
# AMP), and inference frames/s of R50, X101 and X101+TRoI at 640x360; prints
# one table (benchmarks/gpu_check.py). See docs/gpu_check.md.
#
#   tools/gpu_check.sh --prepare      here: download the wheels and the mmcv
#                                     sdist for the device (Python 3.12,
#                                     manylinux x86_64) into .whl/
#   tools/gpu_check.sh                on the device (the run tool, with
#                                     carry [".whl"]); writes into $OUT
#   tools/gpu_check.sh --cpu-dry-run  here: every step it can on the CPU,
#                                     tiny sizes, 1 iteration, no build (the
#                                     .venv's mmcv), gpu tests skipped
#
# Environment: GPU_CHECK_WHEELS (default .whl), GPU_CHECK_BUDGET seconds for
# the whole device run (default 540: the steps after the build are skipped,
# marked in the table, once it is spent), PYTHON (default python3 on the
# device, .venv/bin/python for the dry run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHEELS=${GPU_CHECK_WHEELS:-.whl}
MODE=device
case "${1:-}" in
    --prepare) MODE=prepare ;;
    --cpu-dry-run) MODE=dry ;;
    '') ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--prepare | --cpu-dry-run]" >&2; exit 2 ;;
esac

MMCV_VERSION=2.1.0
# what the device lacks (its image has torch, numpy, scipy, opencv, pillow,
# matplotlib, pyyaml, rich, packaging, six, tqdm, pytest, ninja): one pinned
# version each. setuptools 80.9 keeps pkg_resources, which mmcv's setup.py
# and mmengine import.
PY_WHEELS=(
    mmengine==0.10.7 mmdet==3.3.0 pycocotools==2.0.11 shapely==2.1.2
    terminaltables==3.1.10 addict==2.4.0 yapf==0.43.0 platformdirs==4.14.9
    termcolor==3.3.0 setuptools==80.9.0
)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64
           manylinux2014_x86_64 manylinux1_x86_64)

prepare() {
    local pip=(python3 -m pip)
    mkdir -p "$WHEELS"
    grep -qx '/.whl/' .gitignore || echo "note: add /.whl/ to .gitignore"
    local platform_args=()
    for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
    "${pip[@]}" download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp "${platform_args[@]}" \
        -d "$WHEELS" "${PY_WHEELS[@]}"
    # the sdist: pip prepares its metadata by running its setup.py, which
    # needs pkg_resources and wheel (the .venv that `make install` made has
    # both, and torch)
    local sdist_py=${PYTHON:-.venv/bin/python}
    if [ ! -x "$sdist_py" ]; then
        echo "error: $sdist_py not found: run make install first (or set" \
             "PYTHON to a Python with setuptools<81 and wheel)" >&2
        return 1
    fi
    "$sdist_py" -m pip download -q --no-deps --no-binary=:all: \
        --no-build-isolation -d "$WHEELS" "mmcv==$MMCV_VERSION"
    check_wheels
    du -ch "$WHEELS"/* | tail -1 | sed 's/total$/in '"$WHEELS"' (the run tool carries at most 64 MiB with the tree)/'
}

check_wheels() {
    # every wheel installs for the device's Python (3.12, manylinux) into a
    # scratch target, and every requirement is met by a wheel there or by
    # the device image (benchmarks/gpu_check.py --check-wheels)
    local scratch
    scratch=$(mktemp -d)
    local platform_args=(--platform linux_x86_64)  # a built mmcv wheel
    for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
    python3 -m pip install -q --no-index --no-deps --no-compile \
        --only-binary=:all: --python-version 3.12 --implementation cp \
        "${platform_args[@]}" --target "$scratch" "$WHEELS"/*.whl
    rm -rf "$scratch"
    python3 benchmarks/gpu_check.py --check-wheels "$WHEELS"
}

build_mmcv() {
    # builds mmcv with CUDA ops from the sdist into a wheel, installs it
    # into $SITE and returns the wheel under $OUT (for carrying next time)
    local sdist src log=$OUT/mmcv_build.log
    sdist=$WHEELS/mmcv-$MMCV_VERSION.tar.gz
    if [ ! -f "$sdist" ]; then
        echo "error: $sdist missing: run $0 --prepare here and carry" \
             "$WHEELS" >&2
        return 1
    fi
    src=/tmp/mmcv_src
    rm -rf "$src" /tmp/mmcv_wheel && mkdir -p "$src" /tmp/mmcv_wheel
    tar -xzf "$sdist" -C "$src" --strip-components=1
    echo "building mmcv $MMCV_VERSION with CUDA (log: \$OUT/mmcv_build.log)"
    if ! (cd "$src" && TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16 MMCV_WITH_OPS=1 \
            FORCE_CUDA=1 "$PYTHON" -m pip wheel -v --no-build-isolation \
            --no-deps --no-index -w /tmp/mmcv_wheel . >"$log" 2>&1); then
        echo "mmcv build FAILED; its errors:" >&2
        grep -n -m 40 -E 'error|Error' "$log" >&2 || tail -40 "$log" >&2
        return 1
    fi
    local wheel
    wheel=$(ls /tmp/mmcv_wheel/mmcv-*.whl)
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$SITE" "$wheel"
    local size
    size=$(stat -c %s "$wheel")
    if [ "$size" -le $((15 * 1024 * 1024)) ]; then
        cp "$wheel" "$OUT/"
    else  # the run tool returns files of 16 MiB at most: in parts
        split -b 15M -d -a 1 "$wheel" "$OUT/$(basename "$wheel").part"
    fi
    echo "built $(basename "$wheel") ($((size / 1024 / 1024)) MiB); it is in \$OUT: carry it in $WHEELS next time to skip the build"
}

device() {
    local start=$SECONDS
    PYTHON=${PYTHON:-python3}
    OUT=${OUT:-/tmp/gpu_check_out}
    SITE=/tmp/site
    mkdir -p "$OUT" "$SITE"
    export PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl
    export PYTHONPATH=$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}
    local build_s=0 build_state=prebuilt
    if ! "$PYTHON" -c 'import mmcv.ops' 2>/dev/null; then
        local t=$SECONDS
        if build_mmcv; then build_state=built; else build_state=failed; fi
        build_s=$((SECONDS - t))
    fi
    local budget=${GPU_CHECK_BUDGET:-540}
    local deadline=$(( $(date +%s) + budget - (SECONDS - start) ))
    set +e
    "$PYTHON" benchmarks/gpu_check.py --device cuda --out-dir "$OUT" \
        --build "$build_state" --build-seconds "$build_s" \
        --deadline "$deadline"
    local rc=$?
    set -e
    echo "gpu_check.sh: $((SECONDS - start)) s in all"
    return $rc
}

dry_run() {
    local start=$SECONDS
    PYTHON=${PYTHON:-.venv/bin/python}
    OUT=${OUT:-$(mktemp -d /tmp/gpu_check_dry.XXXX)}
    mkdir -p "$OUT"
    export PYTHONUNBUFFERED=1
    if [ -d "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
        echo "checking the wheels in $WHEELS for the device"
        check_wheels
    else
        echo "no wheels in $WHEELS: run $0 --prepare before the device run"
    fi
    echo "dry run: no mmcv build (the .venv's mmcv $MMCV_VERSION is used)"
    "$PYTHON" benchmarks/gpu_check.py --device cpu --dry-run \
        --out-dir "$OUT" --build skipped
    echo "gpu_check.sh --cpu-dry-run: $((SECONDS - start)) s in all; outputs in $OUT"
}

case $MODE in
    prepare) prepare ;;
    dry) dry_run ;;
    device) device ;;
esac
