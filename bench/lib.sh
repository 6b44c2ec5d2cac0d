# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # sets variables for the driver; reads here, build, bench from it
# What the luacnn-vs-PyTorch drivers share (bench/mlp, bench/lenet); sourced by them after
# they set
#   here    the repository root        build   the build directory (holds luacnn)
#   bench   the driver's name, for the header ("bench/mlp")
# and before they call anything below. Uses /usr/bin/python3 (Debian's python3-torch; the
# pyenv python3 on PATH has no torch).
python=/usr/bin/python3
luacnn=$build/luacnn
[ -x "$luacnn" ] || { echo "build first: cmake -B $build -S $here && cmake --build $build -j2" >&2; exit 1; }

# The project's machines run OpenBLAS with OPENBLAS_CORETYPE=Haswell from the environment;
# a run without it gets Haswell too, and the header says which happened.
coretype_note="OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} (from the environment)"
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  export OPENBLAS_CORETYPE=Haswell
  coretype_note="OPENBLAS_CORETYPE=Haswell (was unset; exported by $bench for this run)"
fi

if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "installing python3-torch (apt-get install -y python3-torch) ..." >&2
  apt-get install -y python3-torch >&2 || { apt-get update >&2 && apt-get install -y python3-torch >&2; }
fi

# check_malloc SCRIPT: which spelling of the malloc thresholds this glibc honours, asked of
# SCRIPT's malloc-check; sets check_tunables, check_legacy (what each spelling did),
# tuned_env (the first spelling that works, or empty) and malloc_kinds ("glibc tuned").
check_malloc() {
  local big=1073741824
  local tunables="GLIBC_TUNABLES=glibc.malloc.trim_threshold=$big:glibc.malloc.mmap_threshold=$big"
  local legacy="MALLOC_TRIM_THRESHOLD_=$big MALLOC_MMAP_THRESHOLD_=$big"
  check_tunables=$(env "$tunables" "$python" "$1" malloc-check)
  # shellcheck disable=SC2086  # $legacy is two assignments
  check_legacy=$(env $legacy "$python" "$1" malloc-check)
  tuned_env=
  [[ $check_legacy == "mmap_threshold=honoured trim_threshold=honoured" ]] && tuned_env=$legacy
  [[ $check_tunables == "mmap_threshold=honoured trim_threshold=honoured" ]] && tuned_env=$tunables
  malloc_kinds="glibc"
  [ -n "$tuned_env" ] && malloc_kinds="glibc tuned"
  return 0
}

# torch_env THREADS MALLOC COMMAND...: runs COMMAND with PyTorch's two thread pools
# (OpenMP and OpenBLAS) at THREADS, passive OpenMP waiting when THREADS > 1 (libgomp's
# default spinning makes the two pools fight over the cores), and the tuned malloc
# thresholds when MALLOC is "tuned".
torch_env() {
  local wait=spin
  [ "$1" -gt 1 ] && wait=passive
  torch_env_pools "$1" "$1" "$wait" "$2" "${@:3}"
}

# torch_env_pools OMP_THREADS BLAS_THREADS spin|passive MALLOC COMMAND...: the same with
# each pool's size and the OpenMP wait policy given (spin: libgomp's default, nothing set).
torch_env_pools() {
  local envs=(OPENBLAS_NUM_THREADS="$2" OMP_NUM_THREADS="$1")
  [ "$3" = passive ] && envs+=(OMP_WAIT_POLICY=passive)
  # shellcheck disable=SC2206  # the tuned setting is one or two assignments
  [ "$4" = tuned ] && envs+=($tuned_env)
  shift 4
  env "${envs[@]}" "$@"
}

# header_machine: the header lines both drivers print after their title: machine, luacnn
# binary and source, PyTorch, environment and the malloc check (call check_malloc first).
header_machine() {
  local cpu cpu_id
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  cpu_id="family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1) model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  grep -qw avx512f /proc/cpuinfo && cpu_id="$cpu_id, AVX-512"
  echo "machine:  $(nproc) CPUs, $cpu ($cpu_id), kernel $(uname -r)"
  echo "luacnn:   $("$luacnn" version) [$luacnn]"
  echo "          source $(git -C "$here" log -1 --format='%h %cd' --date=iso 2>/dev/null || echo '?')$(git -C "$here" diff --quiet HEAD -- ops vm stdlib 2>/dev/null || echo ', with uncommitted changes in ops/ vm/ stdlib/'); binary built $(date -u -r "$luacnn" '+%H:%M:%S UTC')"
  echo "PyTorch:  $("$python" -c 'import torch; print(torch.__version__)') (Debian python3-torch" \
       "$(dpkg-query -W -f='${Version}' python3-torch 2>/dev/null || echo '?')), Python $("$python" -c 'import platform; print(platform.python_version())')," \
       "BLAS $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo '?')"
  echo "env:      $coretype_note; glibc $(ldd --version | head -1 | awk '{print $NF}')"
  echo "malloc:   GLIBC_TUNABLES: $check_tunables; MALLOC_*_: $check_legacy"
  echo "          tuned = ${tuned_env:-none (neither spelling honoured)}"
}
