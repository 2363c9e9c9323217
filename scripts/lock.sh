#!/usr/bin/env bash
# Regenerate requirements.lock from the current .venv (after adding a package there on purpose).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Exact versions of every package in qdm's environment (Python 3.11, CPU)."
  echo "# Installed with: pip install --no-deps -r requirements.lock  (see scripts/setup-env.sh for why --no-deps)."
  echo "# Regenerate with scripts/lock.sh."
  .venv/bin/python -m pip freeze --all --exclude-editable | grep -vE '^pip=='
} > requirements.lock
