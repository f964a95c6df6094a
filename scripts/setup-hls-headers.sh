#!/usr/bin/env bash
# Downloads the vendor fixed-point headers that the HLS C-simulation needs and unpacks
# them into a cache directory (never into the repository):
#
#   <cache>/ap_types/   Xilinx ap_types (ap_fixed.h, ap_int.h, ...), Apache-2.0
#   <cache>/ac_types/   Mentor/Siemens ac_types 4.8 (ac_fixed.h, ac_int.h, ...), Apache-2.0
#
# Both ship inside the hls4ml 1.3.0 wheel on PyPI (hls4ml/templates/vivado/ap_types/ and
# hls4ml/templates/catapult/ac_types/include/); the wheel is fetched with
# `pip download --no-deps` and checked against its SHA-256.
#
# <cache> is, in this order: $AECC_HLS_HEADERS, $XDG_CACHE_HOME/aecc/hls-headers,
# ~/.cache/aecc/hls-headers. The tests and `aecc verify --hls` look in the same place.
# Running the script again is a no-op once the headers are there.
#
# Needs: python3 with pip, network access to PyPI (or a pip mirror/proxy configured
# the usual way, e.g. PIP_INDEX_URL).
set -euo pipefail

HLS4ML_VERSION=1.3.0
WHEEL=hls4ml-${HLS4ML_VERSION}-py3-none-any.whl
WHEEL_SHA256=01bf1de2cd9bca56699b9fe3385cb1735026b022f9580fe1d73faf192dfb90f2

if [[ -n "${AECC_HLS_HEADERS:-}" ]]; then
    cache="$AECC_HLS_HEADERS"
elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then
    cache="$XDG_CACHE_HOME/aecc/hls-headers"
else
    cache="$HOME/.cache/aecc/hls-headers"
fi
stamp="$cache/.from-hls4ml-$HLS4ML_VERSION"

if [[ -f "$stamp" && -f "$cache/ap_types/ap_fixed.h" && -f "$cache/ac_types/ac_fixed.h" ]]; then
    echo "HLS headers already set up in $cache"
    echo "  ap_types: $cache/ap_types"
    echo "  ac_types: $cache/ac_types"
    exit 0
fi

python=${PYTHON:-python3}
mkdir -p "$cache"
work=$(mktemp -d "$cache/.download.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! "$python" -m pip --version >/dev/null 2>&1; then
    # No pip for the system python (Debian without python3-pip): a throw-away venv has one.
    if ! "$python" -m venv "$work/venv" >/dev/null 2>&1; then
        echo "error: neither '$python -m pip' nor '$python -m venv' works; install python3-pip or python3-venv" >&2
        exit 1
    fi
    python="$work/venv/bin/python"
fi

echo "Downloading $WHEEL from PyPI ..."
"$python" -m pip download --quiet --no-deps --only-binary=:all: \
    --dest "$work" "hls4ml==$HLS4ML_VERSION"

got=$(sha256sum "$work/$WHEEL" | cut -d' ' -f1)
if [[ "$got" != "$WHEEL_SHA256" ]]; then
    echo "error: $WHEEL has SHA-256 $got, expected $WHEEL_SHA256" >&2
    exit 1
fi

# Unpack only the two header folders (and their licences), each into a fresh folder
# that replaces the old one at the end, so an interrupted run leaves no half set.
"$python" - "$work/$WHEEL" "$work" <<'PY'
import sys, zipfile, pathlib
wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
wanted = {
    "hls4ml/templates/vivado/ap_types/": out / "ap_types",
    "hls4ml/templates/catapult/ac_types/include/": out / "ac_types",
    "hls4ml/templates/catapult/ac_types/LICENSE": out / "ac_types" / "LICENSE",
}
count = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        for prefix, dest in wanted.items():
            if info.filename == prefix or (prefix.endswith("/") and info.filename.startswith(prefix)):
                rel = info.filename[len(prefix):]
                target = dest / rel if rel else dest
                if info.is_dir():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
                count += 1
if count == 0:
    sys.exit("error: no header files found in the wheel")
PY

for set in ap_types ac_types; do
    rm -rf "$cache/$set"
    mv "$work/$set" "$cache/$set"
done
touch "$stamp"

echo "HLS headers set up in $cache"
echo "  ap_types: $cache/ap_types"
echo "  ac_types: $cache/ac_types"
