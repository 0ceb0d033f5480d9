#!/usr/bin/env bash
# Installs what building revm-jit needs on Debian 12: LLVM 22 (headers, libLLVM-22.so,
# llvm-config-22) and the C libraries llvm-sys links against. Does nothing when all of
# it is already present. Needs root (or sudo) only when something is missing.
set -euo pipefail

# gcc is the linker driver AOT artifacts are linked with; binutils provides nm for their tests.
packages=(llvm-22-dev libpolly-22-dev zlib1g-dev libzstd-dev libxml2-dev libffi-dev gcc binutils)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v llvm-config-22 >/dev/null 2>&1; then
  echo "setup: llvm-config-22 not found after installing llvm-22-dev" >&2
  exit 1
fi
echo "setup: LLVM $(llvm-config-22 --version) at $(llvm-config-22 --prefix)"
