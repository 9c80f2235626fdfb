#!/usr/bin/env bash
# One-time set-up on Debian 12: a Vulkan driver Dawn accepts (lavapipe from
# bookworm-backports, used only when no GPU driver is present), the independent
# references (PyTorch, scikit-learn, scipy), Fashion-MNIST, redis-server (the queue tests
# start their own), and the npm packages.
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need_apt=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if command -v apt-get >/dev/null; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup: adding bookworm-backports (for a Mesa whose lavapipe Dawn accepts)"
    $SUDO tee /etc/apt/sources.list.d/backports.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    APT_UPDATED=0
  fi
  for p in python3-torch python3-torchvision python3-sklearn python3-scipy python3-numpy python3-opencv python3-skimage python3-pil dataset-fashion-mnist chromium redis-server gcc libc6-dev; do
    have "$p" || need_apt+=("$p")
  done
  mesa_ver=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  case "$mesa_ver" in
    25.*|26.*|27.*) ;;
    *) need_mesa=1 ;;
  esac
  if [ ${#need_apt[@]} -gt 0 ] || [ -n "${need_mesa:-}" ]; then
    $SUDO apt-get update -qq
    if [ -n "${need_mesa:-}" ]; then
      echo "setup: installing mesa-vulkan-drivers from bookworm-backports"
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
    fi
    if [ ${#need_apt[@]} -gt 0 ]; then
      echo "setup: installing ${need_apt[*]}"
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    fi
  fi
else
  echo "setup: no apt-get here; install a Vulkan driver, PyTorch, scikit-learn and scipy yourself" >&2
fi

# onnxruntime-node (devDependency, a peer in bench/) would download CUDA parts in its install
# script; .npmrc says skip, and so does this for npm versions that ignore unknown .npmrc keys
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: done"
