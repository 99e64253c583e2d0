#!/usr/bin/env bash
# Whole-build benchmark: generates the shared corpus of N articles (cached), then builds it
# side by side, RUNS times each (default 3): Folio, a bare pulldown-cmark render of the same
# files (the floor), and Hugo when it is installed (Debian's `hugo` package). Each generator
# builds into an empty folder, then over its own last output. Prints medians of wall time and
# peak memory, articles per second, and the ratios.
#
# The generators take turns, round after round (Folio, the previous Folio, Hugo, the floor;
# every other round backwards, every second one starting one further along), rather than one
# generator's runs after another's:
# on a shared machine whose speed drifts from minute to minute, each ratio then compares runs
# made moments apart. Each ratio is printed as the ratio of the medians and as the median of
# the rounds' own ratios (with their range).
#
# Usage: bench/run.sh N [RUNS]        e.g. bench/run.sh 10000
#        FOLIO=path/to/other/folio bench/run.sh 1000   (measure another build of Folio)
#        PREVIOUS=path/to/old/folio bench/run.sh 10000  (also measure an older build, in the same
#                                                        rounds, and print the ratio)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: bench/run.sh N [RUNS]}
runs=${2:-3}
work=${BENCH_DIR:-/tmp/folio-bench}
mkdir -p "$work"
cargo build --release --quiet --example pulldown_floor
folio=${FOLIO:-$PWD/target/release/folio}
[ -n "${FOLIO:-}" ] || cargo build --release --quiet
floor=$PWD/target/release/examples/pulldown_floor
gen=../shared/bench/gen_corpus.py
hugo=$(command -v hugo || true)

corpus=$work/folio-$n
[ -d "$corpus/content" ] || python3 "$gen" --articles "$n" --format folio --out "$corpus" --force >/dev/null
if [ -n "$hugo" ]; then
  [ -d "$work/hugo-$n/content" ] || python3 "$gen" --articles "$n" --format hugo --out "$work/hugo-$n" --force >/dev/null
fi

# How much memory the machine has free decides much of a build's time on a virtual machine
# (fresh memory is fetched from the host; a tmpfs full of old outputs holds memory too):
# printed first, so that runs on different days can be compared.
if [ -r /proc/meminfo ]; then
  awk -v cores="$(nproc)" '/^MemTotal:/ { total = $2 } /^MemAvailable:/ { free = $2 }
    END { printf "machine: %d cores, %.1f of %.1f GB of memory available\n", cores, free / 1048576, total / 1048576 }' /proc/meminfo
fi

# Each series' times and peaks (in KB), one per round, space-separated.
declare -A times mems

# "timed SERIES [--fresh DIR] COMMAND...": runs COMMAND once and adds its wall time and peak
# memory to SERIES; with `--fresh DIR`, DIR is removed first (not timed): a build into an
# empty folder.
timed() {
  local series=$1
  shift
  if [ "$1" = --fresh ]; then
    rm -rf "$2"
    shift 2
  fi
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>&1
  local t m
  read -r t m < <(tail -1 "$work/time.txt")
  times[$series]+="$t "
  mems[$series]+="$m "
}

out_folio=$work/out-folio-$n
out_previous=$work/out-previous-$n
out_hugo=$work/out-hugo-$n
# "run SERIES": one run of one series: a generator's build into an empty folder, or, for
# `NAME-over`, over its last output (as an author rebuilds: files that did not change are left
# as they are).
run() {
  local series=$1 out=
  case ${series%-over} in
    folio) out=$out_folio; set -- "$folio" build "$corpus" --dest-dir "$out" --quiet ;;
    previous) out=$out_previous; set -- "$PREVIOUS" build "$corpus" --dest-dir "$out" --quiet ;;
    hugo) out=$out_hugo; set -- "$hugo" --quiet -s "$work/hugo-$n" -d "$out" ;;
    floor) set -- "$floor" "$corpus/content" ;;
  esac
  if [ -n "$out" ] && [ "$series" = "${series%-over}" ]; then
    timed "$series" --fresh "$out" "$@"
  else
    timed "$series" "$@"
  fi
}
fresh=(folio)
over=(folio-over)
[ -z "${PREVIOUS:-}" ] || { fresh+=(previous); over+=(previous-over); }
[ -z "$hugo" ] || { fresh+=(hugo); over+=(hugo-over); }
fresh+=(floor)
# What runs just before a build changes its time (a large build above all, or one whose memory
# was let go a moment ago), so the order moves from round to round: every other round goes
# through the list backwards, and every second round starts one place further along it.
# Starting further along alone kept each series behind the same one (Folio right after the
# floor, the previous build right after Folio: in the twentieth round the second of two builds
# took 6 to 20% less time, whichever it was); backwards, each runs behind the other.
# "in_turn ROUND SERIES...": runs the series in this round's order.
in_turn() {
  local round=$1 i j
  shift
  local list=("$@")
  for i in "${!list[@]}"; do
    j=$(( round % 2 ? ${#list[@]} - 1 - i : i ))
    run "${list[(round / 2 + j) % ${#list[@]}]}"
  done
}
for round in $(seq 0 $((runs - 1))); do
  in_turn "$round" "${fresh[@]}"
  in_turn "$round" "${over[@]}"
done

# The median of some numbers (the lower middle one of an even count).
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
# "med SERIES": the median time; "peak SERIES": the median peak in MB.
med() { median ${times[$1]}; }
peak() { echo $(( $(median ${mems[$1]}) / 1024 )); }
# "ratios A B": the median of A's times over B's, round by round, and their range.
ratios() {
  local a=(${times[$1]}) b=(${times[$2]}) r=() i
  for i in "${!a[@]}"; do r+=("$(awk "BEGIN{printf \"%.3f\", ${a[$i]} / ${b[$i]}}")"); done
  echo "$(median "${r[@]}") (rounds $(printf '%s\n' "${r[@]}" | sort -g | head -1) to $(printf '%s\n' "${r[@]}" | sort -g | tail -1))"
}
# "div A B": A / B with three decimals.
div() { awk "BEGIN{printf \"%.3f\", $1 / $2}"; }

row() { printf '%-36s %8s s %7s MB%s\n' "$1" "$(med "$2")" "$(peak "$2")" "${3:-}"; }
per_second() { echo "   $(awk "BEGIN{printf \"%10d\", $n / $(med "$1")}") articles/s"; }
row "folio build ($n articles), empty dir" folio "$(per_second folio)"
row "folio build, over its last output" folio-over "$(per_second folio-over)"
row "pulldown-cmark alone" floor
echo "folio / pulldown-cmark floor: $(div "$(med folio)" "$(med floor)")x empty dir, $(div "$(med folio-over)" "$(med floor)")x over last output (medians); rounds: $(ratios folio floor), $(ratios folio-over floor)"
if [ -n "${PREVIOUS:-}" ]; then
  row "previous folio, empty dir" previous
  row "previous folio, over its last output" previous-over
  echo "folio / previous: time $(div "$(med folio)" "$(med previous)") empty dir, $(div "$(med folio-over)" "$(med previous-over)") over last output; memory $(div "$(peak folio-over)" "$(peak previous-over)") (medians)"
  echo "folio / previous, rounds: $(ratios folio previous) empty dir, $(ratios folio-over previous-over) over last output"
  rm -rf "$out_previous"
fi
if [ -n "$hugo" ]; then
  version=$("$hugo" version | grep -o 'v[0-9.]*' | head -1)
  row "hugo $version, empty dir" hugo
  row "hugo $version, over its last output" hugo-over
  # "fraction A B": A / B, and as one over B / A.
  fraction() { awk "BEGIN{printf \"%.3f (1/%.1f)\", $1 / $2, $2 / $1}"; }
  echo "folio / hugo time: $(fraction "$(med folio)" "$(med hugo)") empty dir, $(fraction "$(med folio-over)" "$(med hugo-over)") over last output (medians)"
  echo "folio / hugo, rounds: $(ratios folio hugo) empty dir, $(ratios folio-over hugo-over) over last output"
  echo "output size: folio $(du -sm --apparent-size "$out_folio" | cut -f1) MB, hugo $(du -sm --apparent-size "$out_hugo" | cut -f1) MB"
fi
