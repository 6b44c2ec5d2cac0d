# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # sets variables for the driver; reads here, build, bench from it
# What the luacnn-vs-PyTorch drivers share (bench/mlp, bench/lenet, bench/cifar_vgg,
# bench/inception, bench/resnet18, bench/vgg16); sourced by them after they set
#   here    the repository root        build   the build directory (holds luacnn)
#   bench   the driver's name, for the header ("bench/mlp")
# and before they call anything below. Uses /usr/bin/python3 (Debian's python3-torch; the
# pyenv python3 on PATH has no torch).
python=/usr/bin/python3
luacnn=$build/luacnn
[ -x "$luacnn" ] || { echo "build first: cmake -B $build -S $here && cmake --build $build -j2" >&2; exit 1; }

# The project's machines run OpenBLAS with OPENBLAS_CORETYPE=Haswell from the environment;
# a run without it gets Haswell too, and the header says which happened. BLAS=native (what
# bench/run's native mode sets) runs both sides with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset, as on a user's own machine: OpenBLAS then picks its kernels by the CPU it finds.
if [ "${BLAS:-}" = native ]; then
  unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
  coretype_note="OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (BLAS=native): OpenBLAS picks its own kernels"
else
  coretype_note="OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} (from the environment)"
  if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    export OPENBLAS_CORETYPE=Haswell
    coretype_note="OPENBLAS_CORETYPE=Haswell (was unset; exported by $bench for this run)"
  fi
fi

if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "installing python3-torch (apt-get install -y python3-torch) ..." >&2
  apt-get install -y python3-torch >&2 || { apt-get update >&2 && apt-get install -y python3-torch >&2; }
fi

# check_malloc [SCRIPT]: which spelling of the malloc thresholds this glibc honours, asked
# of SCRIPT's malloc-check (default: bench/lib.py's); sets check_tunables, check_legacy
# (what each spelling did), tuned_env (the first spelling that works, or empty) and
# malloc_kinds ("glibc tuned").
# shellcheck disable=SC2120  # the argument is optional
check_malloc() {
  local big=1073741824
  local tunables="GLIBC_TUNABLES=glibc.malloc.trim_threshold=$big:glibc.malloc.mmap_threshold=$big"
  local legacy="MALLOC_TRIM_THRESHOLD_=$big MALLOC_MMAP_THRESHOLD_=$big"
  local script=${1:-$here/bench/lib.py}
  check_tunables=$(env "$tunables" "$python" "$script" malloc-check)
  # shellcheck disable=SC2086  # $legacy is two assignments
  check_legacy=$(env $legacy "$python" "$script" malloc-check)
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

# torch_best_pools THREADS: PyTorch's pools in the configuration that won bench/lenet's
# screening, as "OMP_THREADS BLAS_THREADS WAIT": 1 thread: 1 1 spin; 2 threads: 2 OpenMP
# threads spinning (libgomp's default) and a single-threaded OpenBLAS (the convolutions run
# on oneDNN/OpenMP). The convolutional benchmarks reuse it instead of screening again.
torch_best_pools() { if [ "$1" = 1 ]; then echo "1 1 spin"; else echo "$1 1 spin"; fi; }

# torch_best THREADS COMMAND...: runs COMMAND in that configuration, glibc's default malloc.
torch_best() {
  local omp blas wait
  read -r omp blas wait < <(torch_best_pools "$1")
  torch_env_pools "$omp" "$blas" "$wait" glibc "${@:2}"
}

# torch_best_cfg THREADS: that configuration as the tables name it ("pools=2+1-spin").
torch_best_cfg() {
  local omp blas wait
  read -r omp blas wait < <(torch_best_pools "$1")
  echo "pools=$omp+$blas-$wait"
}

# need_torchvision: installs Debian's python3-torchvision when /usr/bin/python3 lacks it.
need_torchvision() {
  if ! "$python" -c 'import torchvision' 2>/dev/null; then
    echo "installing python3-torchvision (apt-get install -y python3-torchvision) ..." >&2
    apt-get install -y python3-torchvision >&2 || { apt-get update >&2 && apt-get install -y python3-torchvision >&2; }
  fi
}

# results_file: a temporary file for the raw measurements in $results, removed at exit
# (RESULTS=FILE in the environment keeps a copy).
results_file() {
  tmp=$(mktemp -d)
  results=$tmp/results
  # shellcheck disable=SC2153  # RESULTS comes from the environment
  trap '[ -n "${RESULTS:-}" ] && cp "$results" "$RESULTS"; rm -rf "$tmp"' EXIT
  touch "$results"
}

# alternate ROUNDS "THREAD COUNTS": ROUNDS rounds, each running for every thread count the
# driver's run_luacnn THREADS and then run_torch THREADS (one line of key=value fields each,
# on stdout), so both sides see the same machine drift; appends "L|P ROUND THREADS FIELDS"
# to $results, the PyTorch line with its configuration (cfg=..., after $torch_cfg when the
# driver sets it). Stops when a side fails or prints nothing (its error is on stderr).
alternate() {
  local r th line
  for r in $(seq "$1"); do
    for th in $2; do
      echo "round $r/$1, $th thread(s) ..." >&2
      # shellcheck disable=SC2015  # the message is for either failure, the run's or an empty line
      line=$(run_luacnn "$th" | tail -1) && [ -n "$line" ] ||
        { echo "$bench: the luacnn side failed (round $r, $th threads)" >&2; exit 1; }
      echo "L $r $th $line" >> "$results"
      # shellcheck disable=SC2015
      line=$(run_torch "$th" | tail -1) && [ -n "$line" ] ||
        { echo "$bench: the PyTorch side failed (round $r, $th threads)" >&2; exit 1; }
      echo "P $r $th $line cfg=${torch_cfg:+$torch_cfg,}$(torch_best_cfg "$th")" >> "$results"
    done
  done
}

# report MEASURE...: lib.lua's report over $results with $bench and $rounds (see there for
# MEASURE); fails when the two sides' workloads differ.
report() {
  lua5.4 - "$here/bench/lib.lua" "$bench" "$results" "$rounds" "$@" <<'LUA'
if not dofile(arg[1]).report(table.unpack(arg, 2)) then os.exit(1) end
LUA
}
