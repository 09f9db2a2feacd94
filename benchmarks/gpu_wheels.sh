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
set -euo pipefail
out=${1:-gpu_wheels}
python_version=${2:-$(.venv/bin/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}
deepspeed=${DEEPSPEED:-deepspeed==0.19.8}
target=(--only-binary=:all: --python-version "$python_version" --implementation cp
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64
        --platform any)
mkdir -p "$out"
.venv/bin/pip freeze --exclude-editable \
  | grep -viE '^(torch|torchvision|triton|nvidia-[a-z0-9-]+|pytest|hypothesis|harp)==' > "$out/pins.txt"
.venv/bin/pip download --quiet --no-deps --dest "$out" "${target[@]}" -r "$out/pins.txt"
DS_BUILD_OPS=0 .venv/bin/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$out" "$deepspeed"
# DeepSpeed's own requirements (none of them torch), with their dependencies
.venv/bin/pip download --quiet --dest "$out" "${target[@]}" hjson ninja py-cpuinfo pydantic msgpack psutil nvidia-ml-py einops
if [ -n "${TORCHVISION:-}" ]; then
  .venv/bin/pip download --quiet --no-deps --dest "$out" "${target[@]}" --index-url "${TORCH_INDEX:?set TORCH_INDEX}" "$TORCHVISION"
fi
ls "$out"/*.whl | wc -l | xargs echo "wheels in $out:"
du -sh "$out"
