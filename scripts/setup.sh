#!/usr/bin/env bash
# Installs what aecc's tests and flows need on Debian/Ubuntu: Verilator (co-simulation),
# Yosys, OpenSTA, Icarus Verilog, nextpnr-ice40 (synthesis/timing/power reports), g++ and ccache, and
# the HLS C++ header sets (ap_types, ac_types) into the user cache.
# Idempotent: installs only what is missing. Needs root (uses sudo when available).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: not root and no sudo; install these packages yourself: verilator yosys opensta iverilog nextpnr-ice40 g++ ccache python3-venv" >&2
  fi
fi

missing=()
command -v verilator >/dev/null 2>&1 || missing+=(verilator)
command -v yosys     >/dev/null 2>&1 || missing+=(yosys)
command -v sta       >/dev/null 2>&1 || missing+=(opensta)
command -v iverilog  >/dev/null 2>&1 || missing+=(iverilog)
command -v nextpnr-ice40 >/dev/null 2>&1 || missing+=(nextpnr-ice40)
command -v g++       >/dev/null 2>&1 || missing+=(g++)
command -v ccache    >/dev/null 2>&1 || missing+=(ccache)
command -v make      >/dev/null 2>&1 || missing+=(make)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -x scripts/setup-hls-headers.sh ]; then
  scripts/setup-hls-headers.sh
fi

echo "setup: verilator $(verilator --version | awk '{print $2}'), $(yosys -V | awk '{print $1, $2}'), g++ $(g++ -dumpversion)"
