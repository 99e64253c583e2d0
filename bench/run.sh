#!/usr/bin/env bash
# Whole-build benchmark: generates the shared corpus of N articles (cached), then builds it
# side by side, RUNS times each (default 3): Folio, a bare pulldown-cmark render of the same
# files (the floor), and Hugo when it is installed (Debian's `hugo` package). Each generator
# builds into an empty folder, then over its own last output. Prints medians of wall time and
# peak memory, articles per second, and the ratios.
#
# Usage: bench/run.sh N [RUNS]        e.g. bench/run.sh 10000
#        FOLIO=path/to/other/folio bench/run.sh 1000   (measure another build of Folio)
#        PREVIOUS=path/to/old/folio bench/run.sh 10000  (also measure an older build, in the same
#                                                        run, and print the ratio)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: bench/run.sh N [RUNS]}
runs=${2:-3}
work=${BENCH_DIR:-/tmp/folio-bench}
mkdir -p "$work"
cargo build --release --quiet --example pulldown_floor
folio=${FOLIO:-$PWD/target/release/folio}
[ -n "${FOLIO:-}" ] || cargo build --release --quiet
gen=../shared/bench/gen_corpus.py

corpus=$work/folio-$n
[ -d "$corpus/content" ] || python3 "$gen" --articles "$n" --format folio --out "$corpus" --force >/dev/null
if command -v hugo >/dev/null 2>&1; then
  [ -d "$work/hugo-$n/content" ] || python3 "$gen" --articles "$n" --format hugo --out "$work/hugo-$n" --force >/dev/null
fi

# Runs a command RUNS times; prints "median_seconds median_peak_mb". With `--fresh DIR` first,
# DIR is removed before each run (not timed): a build into an empty folder.
measure() {
  local times=() mems=() fresh=
  if [ "$1" = --fresh ]; then
    fresh=$2
    shift 2
  fi
  for _ in $(seq "$runs"); do
    local out
    [ -z "$fresh" ] || rm -rf "$fresh"
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>&1
    out=$(tail -1 "$work/time.txt")
    times+=("$(echo "$out" | cut -d' ' -f1)")
    mems+=("$(echo "$out" | cut -d' ' -f2)")
  done
  local t m
  t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  m=$(printf '%s\n' "${mems[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "$t $((m / 1024))"
}

# Into an empty folder, then over the previous build (as an author rebuilds: files that did
# not change are left as they are).
read -r ct cm < <(measure --fresh "$work/out-folio-$n" "$folio" build "$corpus" --dest-dir "$work/out-folio-$n" --quiet)
read -r ft fm < <(measure "$folio" build "$corpus" --dest-dir "$work/out-folio-$n" --quiet)
read -r pt pm < <(measure "$PWD/target/release/examples/pulldown_floor" "$corpus/content")
# "ratio A B" prints A / B and B / A.
ratio() { awk "BEGIN{printf \"%.3f (1/%.1f)\", $1 / $2, $2 / $1}"; }
printf '%-36s %8s s %7s MB %10s articles/s\n' "folio build ($n articles), empty dir" "$ct" "$cm" "$(awk "BEGIN{printf \"%d\", $n / $ct}")"
printf '%-36s %8s s %7s MB %10s articles/s\n' "folio build, over its last output" "$ft" "$fm" "$(awk "BEGIN{printf \"%d\", $n / $ft}")"
printf '%-36s %8s s %7s MB\n' "pulldown-cmark alone" "$pt" "$pm"
echo "folio / pulldown-cmark floor: $(awk "BEGIN{printf \"%.2f\", $ct / $pt}")x empty dir, $(awk "BEGIN{printf \"%.2f\", $ft / $pt}")x over last output"
if [ -n "${PREVIOUS:-}" ]; then
  read -r vct vcm < <(measure --fresh "$work/out-previous-$n" "$PREVIOUS" build "$corpus" --dest-dir "$work/out-previous-$n" --quiet)
  read -r vt vm < <(measure "$PREVIOUS" build "$corpus" --dest-dir "$work/out-previous-$n" --quiet)
  printf '%-36s %8s s %7s MB\n' "previous folio, empty dir" "$vct" "$vcm"
  printf '%-36s %8s s %7s MB\n' "previous folio, over its last output" "$vt" "$vm"
  echo "folio / previous: time $(awk "BEGIN{printf \"%.2f\", $ct / $vct}") empty dir, $(awk "BEGIN{printf \"%.2f\", $ft / $vt}") over last output; memory $(awk "BEGIN{printf \"%.2f\", $fm / $vm}")"
  rm -rf "$work/out-previous-$n"
fi
if command -v hugo >/dev/null 2>&1; then
  read -r hct hcm < <(measure --fresh "$work/out-hugo-$n" hugo --quiet -s "$work/hugo-$n" -d "$work/out-hugo-$n")
  read -r ht hm < <(measure hugo --quiet -s "$work/hugo-$n" -d "$work/out-hugo-$n")
  version=$(hugo version | grep -o 'v[0-9.]*' | head -1)
  printf '%-36s %8s s %7s MB\n' "hugo $version, empty dir" "$hct" "$hcm"
  printf '%-36s %8s s %7s MB\n' "hugo $version, over its last output" "$ht" "$hm"
  echo "folio / hugo time: $(ratio "$ct" "$hct") empty dir, $(ratio "$ft" "$ht") over last output"
  echo "output size: folio $(du -sm --apparent-size "$work/out-folio-$n" | cut -f1) MB, hugo $(du -sm --apparent-size "$work/out-hugo-$n" | cut -f1) MB"
fi
