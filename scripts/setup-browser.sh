#!/usr/bin/env bash
# Headless Chromium for tests/test_browser.py: Debian's chromium and chromium-driver, installed with
# apt when missing (needs root).  Selenium is pointed at these binaries (SE_OFFLINE=true), so no
# browser or driver is ever downloaded at test time.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "[setup-browser] /usr/bin/chromium or /usr/bin/chromedriver is missing; as root run:" >&2
  echo "  apt-get update && apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
echo "[setup-browser] installing Debian's chromium and chromium-driver" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromium --version >&2
