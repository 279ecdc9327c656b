#!/usr/bin/env bash
# Creates the throwaway virtual environment that benchmarks/ddp_torchvision.py runs in: the pinned
# torch 2.15.0 wheel that scripts/bootstrap.sh cached (installed from that file, so the hash is
# the pinned one), the CUDA runtime wheels `import torch` needs (see ../shared/NOTES.md), and
# torchvision 0.29.2, the release matching torch 2.15. About 4 GB; never a dependency of the build.
#
#   benchmarks/ddp_torchvision_env.sh [VENV]        # default $DDP_VENV or /tmp/ddpvenv
#
# Idempotent: returns at once when VENV already imports torch 2.15.0 and torchvision 0.29.2.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${1:-${DDP_VENV:-/tmp/ddpvenv}}
if "$venv/bin/python" -c 'import torch, torchvision, sys; sys.exit(not (torch.__version__.startswith("2.15.0") and torchvision.__version__.startswith("0.29.2")))' 2>/dev/null; then
  exit 0
fi
cache=${SIMPLEDET_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/simpledet/wheels}
wheel=$cache/torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl
if [[ ! -f $wheel ]]; then
  scripts/bootstrap.sh   # downloads and checks the pinned wheel into $cache
fi
echo "48c2d861134c0b5697c7602cb5ffa68f62a2989fdcd1717e593356f67996ca1e  $wheel" | sha256sum -c --status ||
  { echo "error: $wheel does not have the pinned sha256" >&2; exit 1; }
echo "ddp_torchvision_env: creating $venv (torch 2.15.0, torchvision 0.29.2; about 4 GB)" >&2
python3 -m venv "$venv"
pip=("$venv/bin/pip" install -q --disable-pip-version-check)
"${pip[@]}" --no-deps "$wheel"
"${pip[@]}" --no-deps nvidia-cuda-runtime==13.2.86 nvidia-cuda-cupti==13.2.86 \
  nvidia-cuda-nvrtc==13.2.86 nvidia-cublas==13.4.1.3 nvidia-cufft==12.2.0.57 nvidia-cufile==1.17.1.22 \
  nvidia-cusparse==12.7.10.12 nvidia-cudnn-cu13==9.26.0.51 nvidia-cusparselt-cu13==0.8.1 \
  nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.7.2 torchvision==0.29.2
"${pip[@]}" numpy pillow sympy networkx jinja2 fsspec filelock typing-extensions setuptools
"$venv/bin/python" -c 'import torch, torchvision; print("ddp_torchvision_env: torch", torch.__version__, "torchvision", torchvision.__version__)'
