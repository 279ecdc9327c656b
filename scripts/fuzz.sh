#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harnesses of Fuzzing/ and runs each for a bounded time.
#
#   scripts/fuzz.sh                    every harness, FUZZ_SECONDS (default 60) each, one after another
#   scripts/fuzz.sh FuzzImage FuzzVOC  only these
#
# Environment:
#   FUZZ_SECONDS  seconds per harness (libFuzzer's -max_total_time)
#   FUZZ_WORK     where corpora, findings and logs go (default .build-fuzz/work, git-ignored)
#   FUZZ_NICE     niceness of the build and the runs (default 10: the machine is shared)
#   FUZZ_ARGS     extra libFuzzer flags, appended to each run
#   FUZZ_BUILD    0 to run the harnesses as built, without building first
#   FUZZ_ASAN     1 to add AddressSanitizer (a separate build in .build-fuzz-asan; about half the
#                 speed; leak detection off, since the Swift runtime and libtorch keep caches)
#
# Each harness starts from its seeds (Fuzzing/Seeds/<harness> and the test fixtures listed
# below, copied into FUZZ_WORK/<harness>/seeds) plus the corpus earlier runs grew in
# FUZZ_WORK/<harness>/corpus. A crash, a timeout (an input taking over 10 s), an RSS over 2 GB or
# one allocation over 2 GB is a finding: its input is written to FUZZ_WORK/<harness>/findings/,
# and the script fails once every harness has run. Reproduce one with
#   SWIFT_BACKTRACE=enable=no .build-fuzz/release/<harness> FUZZ_WORK/<harness>/findings/<file>
set -euo pipefail
# libFuzzer must see a trap itself to save the input; the Swift runtime's backtracer would take it first.
export SWIFT_BACKTRACE=enable=no
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
work=${FUZZ_WORK:-.build-fuzz/work}
niceness=${FUZZ_NICE:-10}
all=(FuzzSafeTensors FuzzCheckpoint FuzzCOCO FuzzVOC FuzzLightJSON FuzzCOCOEvaluation FuzzConfig FuzzImage)
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=("${all[@]}")

# The seeds of each harness beyond Fuzzing/Seeds/<harness>: small fixtures of the test suite.
seed_files() {
  case $1 in
  FuzzSafeTensors) ls Tests/TorchTests/Fixtures/*.safetensors ;;
  FuzzCheckpoint) ls Tests/TorchTests/Fixtures/*.pth ;;
  FuzzCOCO) ls Tests/EvaluationTests/Fixtures/bbox_zero_id.gt.json ;;
  FuzzVOC) ls Tests/DataTests/Fixtures/kitchen/Annotations/*.xml ;;
  FuzzLightJSON) ;;
  FuzzCOCOEvaluation) ls Tests/EvaluationTests/Fixtures/{bbox_zero_id.*,segm_basic.boxonly.results}.json ;;
  FuzzConfig) find configs -name '*.yaml' ;;
  FuzzImage) ls Tests/DataTests/Fixtures/*.{jpg,png} ;;
  *) echo "fuzz: no harness named $1 (harnesses: ${all[*]})" >&2; exit 2 ;;
  esac
}

# Inputs longer than this are never tried: large enough for the seeds, small enough that each
# run stays fast. Readers must still bound their work for longer files themselves.
max_len() {
  case $1 in
  FuzzSafeTensors) echo 4096 ;;
  FuzzCheckpoint) echo 16384 ;;
  FuzzImage) echo 8192 ;;
  FuzzConfig) echo 8192 ;;
  *) echo 16384 ;;
  esac
}

for harness in "${harnesses[@]}"; do seed_files "$harness" > /dev/null; done

scratch=.build-fuzz
sanitizers=(--sanitize fuzzer)
extra=()
suffix=
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
  scratch=.build-fuzz-asan
  suffix=-asan
  sanitizers+=(--sanitize address)
  extra+=(-detect_leaks=0)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
fi
[ "${FUZZ_BUILD:-1}" = 0 ] || nice -n "$niceness" swift build --package-path Fuzzing --scratch-path "$scratch" -c release "${sanitizers[@]}"

failed=()
summary=()
for harness in "${harnesses[@]}"; do
  dir=$work/$harness
  mkdir -p "$dir/corpus" "$dir/seeds" "$dir/findings"
  [ -d "Fuzzing/Seeds/$harness" ] && cp Fuzzing/Seeds/"$harness"/* "$dir/seeds/"
  for file in $(seed_files "$harness"); do cp "$file" "$dir/seeds/"; done
  log=$dir/run-$(date -u +%Y%m%dT%H%M%SZ)$suffix.log
  echo "fuzz: $harness for ${seconds}s (log $log)"
  status=0
  # shellcheck disable=SC2086
  nice -n "$niceness" "$scratch/release/$harness" "$dir/corpus" "$dir/seeds" "${extra[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len="$(max_len "$harness")" -artifact_prefix="$dir/findings/" -print_final_stats=1 \
    ${FUZZ_ARGS:-} > "$log" 2>&1 || status=$?
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log" | tail -1)
  coverage=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FINDING (exit $status): $(grep -Em1 'ERROR: libFuzzer|Fatal error|SUMMARY' "$log" || echo 'see the log')"
    failed+=("$harness")
  fi
  summary+=("$harness$suffix: ${runs:-?} runs, ${rate:-?}/s, ${coverage:-no coverage line}: $result")
done

printf 'fuzz: %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}; inputs under $work/<harness>/findings/" >&2
  exit 1
fi
