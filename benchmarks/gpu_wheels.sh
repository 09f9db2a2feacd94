#!/usr/bin/env bash
# Wheels for benchmarks/gpu_check.py on an offline GPU machine that already has torch with CUDA.
#
#   bash benchmarks/gpu_wheels.sh [DIR] [PYTHON_VERSION]       # here, with network, from a built checkout
#   pip install --no-index --find-links DIR --no-deps DIR/*.whl  # there
#
# What travels: every package of this checkout's .venv (its exact versions, so the GPU run uses what the
# tests here pass with) except torch, torchvision, triton and NVIDIA's CUDA wheels, which must match the
# GPU machine's own torch build; plus DeepSpeed and its dependencies. DeepSpeed publishes only a source
# archive: it is built here into a wheel without compiling its CUDA ops (DS_BUILD_OPS=0; ZeRO-2/3 with
# the Trainer's AdamW need none, others JIT-compile on first use). torchvision, if the GPU machine lacks
# it, must be the build matching its torch: set TORCHVISION="torchvision==X.Y.Z" and TORCH_INDEX (e.g.
# https://download.pytorch.org/whl/cu130) to add it.
#
# HAVE="name name ..." leaves out packages the GPU machine already has (any version; names as pip
# spells them, case and -/_ ignored): the whole set is ~170 MB, more than some machines let a run carry.
# PYTHON_VERSION must be the GPU machine's Python (binary wheels are per version). For this project's
# lent H200 image (Python 3.12, see README "GPU check") that is 20 wheels, 21 MB:
#   HAVE="$(cat benchmarks/gpu_image_has.txt)" bash benchmarks/gpu_wheels.sh .whl 3.12
set -euo pipefail
out=${1:-gpu_wheels}
python_version=${2:-$(.venv/bin/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}
deepspeed=${DEEPSPEED:-deepspeed==0.19.8}
target=(--only-binary=:all: --python-version "$python_version" --implementation cp
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64
        --platform manylinux_2_28_x86_64 --platform any)
mkdir -p "$out"
.venv/bin/pip freeze --exclude-editable \
  | grep -viE '^(torch|torchvision|triton|nvidia-[a-z0-9-]+|pytest|hypothesis|harp)==' \
  | HAVE="${HAVE:-}" .venv/bin/python -c '
import os, re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
have = {norm(n) for n in os.environ["HAVE"].split()}
sys.stdout.writelines(line for line in sys.stdin if norm(line.split("==")[0]) not in have)' > "$out/pins.txt"
.venv/bin/pip download --quiet --no-deps --dest "$out" "${target[@]}" -r "$out/pins.txt"
DS_BUILD_OPS=0 .venv/bin/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$out" "$deepspeed"
# DeepSpeed's own requirements (none of them torch), with their dependencies
ds_needs=$(HAVE="${HAVE:-}" .venv/bin/python -c '
import os, re
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
have = {norm(n) for n in os.environ["HAVE"].split()}
print(" ".join(n for n in "hjson ninja py-cpuinfo pydantic msgpack psutil nvidia-ml-py einops".split() if n not in have))')
[ -z "$ds_needs" ] || .venv/bin/pip download --quiet --dest "$out" "${target[@]}" $ds_needs
if [ -n "${TORCHVISION:-}" ]; then
  .venv/bin/pip download --quiet --no-deps --dest "$out" "${target[@]}" --index-url "${TORCH_INDEX:?set TORCH_INDEX}" "$TORCHVISION"
fi
ls "$out"/*.whl | wc -l | xargs echo "wheels in $out:"
du -sh "$out"
