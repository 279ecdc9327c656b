#!/usr/bin/env bash
# Installs SimpleDet's pinned native dependencies under .deps/ (git-ignored).
# Idempotent: a second run checks a stamp file and returns in well under a second.
#
#   .deps/python/torch/include   libtorch headers (from the PyPI torch wheel)
#   .deps/python/torch/lib       libtorch_cpu, libc10 and libgomp
#   .deps/python/nvidia/cu13/lib libcudart and libcupti, which libtorch_cpu needs to load
#   .deps/pkgconfig/simpledet-libtorch.pc
#                                pkg-config's description of that libtorch (include folders, -L,
#                                the libraries), which a package depending on SimpleDet by version
#                                builds against (README: "Use SimpleDet from your own package")
#
# With $LIBTORCH set (a folder holding include/ and lib/), no wheel is fetched and the .pc file
# describes that libtorch instead.
#
# The wheel layout is kept so that the RUNPATH entries baked into libtorch_cpu
# ($ORIGIN/../../nvidia/...) resolve without LD_LIBRARY_PATH.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
cache="${SIMPLEDET_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/simpledet/wheels}"

# name | version | exact wheel file | sha256
wheels=(
  "torch|2.15.0|torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl|48c2d861134c0b5697c7602cb5ffa68f62a2989fdcd1717e593356f67996ca1e"
  "nvidia-cuda-runtime|13.2.86|nvidia_cuda_runtime-13.2.86-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl|3498247680dfddce31bad102af7e3e26fc795342a3cac64722bb0fa95e7f60f0"
  "nvidia-cuda-cupti|13.2.86|nvidia_cuda_cupti-13.2.86-py3-none-manylinux_2_25_x86_64.whl|8fa29f15dd8336181f961764d9d95236fc6b931dd0c8fcf8cd70aab0c310b586"
)
# Debian packages the build needs: the C++ compiler driver and unzip for the wheels,
# the image codecs the data pipeline links against, pkg-config to find them, and the gloo
# headers c10d's ProcessGroupGloo needs (the wheel has its library but not its headers).
debs=(g++ unzip pkg-config libturbojpeg0-dev libpng-dev libgloo-dev)

# Writes .deps/pkgconfig/simpledet-libtorch.pc for the libtorch folder $1; every run, since the
# checkout may have moved. SwiftPM passes only -I, -L and -l from a .pc file (it drops an rpath
# with a warning), so none is written: executables get theirs from the package that links them.
write_pkgconfig() {
  local torch=$1 version
  if [[ ! -f "$torch/include/ATen/ATen.h" || ! -f "$torch/lib/libtorch_cpu.so" ]]; then
    echo "bootstrap: $torch holds no libtorch (include/ATen/ATen.h and lib/libtorch_cpu.so)" >&2
    exit 1
  fi
  version=$(awk '/#define TORCH_VERSION_(MAJOR|MINOR|PATCH) / { v = v (v == "" ? "" : ".") $3 } END { print v }' \
    "$torch/include/torch/headeronly/version.h" 2>/dev/null || true)
  mkdir -p "$deps/pkgconfig"
  {
    echo "# Written by SimpleDet's scripts/bootstrap.sh: the libtorch SimpleDet builds against."
    echo "prefix=$torch"
    echo 'includedir=${prefix}/include'
    echo 'libdir=${prefix}/lib'
    echo
    echo "Name: simpledet-libtorch"
    echo "Description: libtorch (torch_cpu and c10) for SimpleDet"
    echo "Version: ${version:-unknown}"
    echo 'Cflags: -I${includedir} -I${includedir}/torch/csrc/api/include'
    echo 'Libs: -L${libdir} -ltorch_cpu -lc10'
  } >"$deps/pkgconfig/simpledet-libtorch.pc.tmp"
  mv "$deps/pkgconfig/simpledet-libtorch.pc.tmp" "$deps/pkgconfig/simpledet-libtorch.pc"
}

stamp="$deps/.installed"
want=$(printf '%s\n' "${wheels[@]}" "${debs[@]}" | sha256sum | cut -d' ' -f1)
if [[ -z "${LIBTORCH:-}" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  write_pkgconfig "$deps/python/torch"
  exit 0
fi

missing_debs=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_debs+=("$p")
done
if ((${#missing_debs[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "bootstrap: installing Debian packages: ${missing_debs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_debs[@]}" >/dev/null
  else
    echo "bootstrap: these Debian packages are missing; install them and run again:" >&2
    echo "  sudo apt-get install -y ${missing_debs[*]}" >&2
    exit 1
  fi
fi

if [[ -n "${LIBTORCH:-}" ]]; then
  [[ -d "$LIBTORCH" ]] || { echo "bootstrap: LIBTORCH=$LIBTORCH is not a folder" >&2; exit 1; }
  write_pkgconfig "$(cd "$LIBTORCH" && pwd)"
  exit 0
fi

python=$(command -v python3 || true)
[[ -n "$python" ]] || { echo "bootstrap: python3 with pip is needed to fetch the pinned wheels" >&2; exit 1; }

mkdir -p "$cache"
for entry in "${wheels[@]}"; do
  IFS='|' read -r name version file sha <<<"$entry"
  path="$cache/$file"
  if [[ -f "$path" ]] && echo "$sha  $path" | sha256sum -c --status; then
    continue
  fi
  echo "bootstrap: downloading $name==$version"
  rm -f "$path"
  tmp=$(mktemp -d)
  # --python-version/--platform make pip pick the same file on every machine,
  # so the pinned hash holds whatever Python runs this script.
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --no-cache-dir \
    --python-version 3.11 --implementation cp --abi cp311 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_25_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$tmp" "$name==$version"
  [[ -f "$tmp/$file" ]] || { echo "bootstrap: pip did not deliver $file (got: $(ls "$tmp"))" >&2; exit 1; }
  if ! echo "$sha  $tmp/$file" | sha256sum -c --status; then
    echo "bootstrap: sha256 mismatch for $file; refusing to use it" >&2
    exit 1
  fi
  mv "$tmp/$file" "$path"
  rm -rf "$tmp"
done

echo "bootstrap: unpacking libtorch into .deps/"
rm -rf "$deps/python"
mkdir -p "$deps/python"
unzip -q -o "$cache/$(cut -d'|' -f3 <<<"${wheels[0]}")" -d "$deps/python" \
  'torch/include/*' 'torch/lib/libc10.so' 'torch/lib/libtorch_cpu.so' 'torch/lib/libgomp.so.1' 'torch/lib/libtorch.so' \
  'torch/share/cmake/*' 'torch/version.py'
for entry in "${wheels[@]:1}"; do
  unzip -q -o "$cache/$(cut -d'|' -f3 <<<"$entry")" -d "$deps/python" 'nvidia/cu13/lib/libcudart.so.13' 'nvidia/cu13/lib/libcupti.so.13' 2>/dev/null || true
done
for lib in libcudart.so.13 libcupti.so.13; do
  [[ -f "$deps/python/nvidia/cu13/lib/$lib" ]] || { echo "bootstrap: $lib missing after unpacking" >&2; exit 1; }
done
write_pkgconfig "$deps/python/torch"
echo "$want" >"$stamp"
echo "bootstrap: done ($(du -sh "$deps/python" | cut -f1) under .deps/python)"
