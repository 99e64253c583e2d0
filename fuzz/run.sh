#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, from seed corpora drawn from the example
# site, the fixtures and ../shared/corpora. A crash, timeout or out-of-memory fails the run and
# leaves the input in fuzz/artifacts/<target>/ (turn it into a regression test).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); runs on the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
export RUSTC_BOOTSTRAP=1
shared=../../shared/corpora

seed() {  # seed TARGET FILES...
  local dir=corpus/$1
  shift
  mkdir -p "$dir"
  for f in "$@"; do
    [ -f "$f" ] && cp "$f" "$dir/$(echo "$f" | md5sum | cut -c1-16)" || true
  done
}
markdown=$(find ../content ../tests/fixtures -name '*.md' | head -200)
seed front_matter $markdown $(find "$shared/rust-blog/content" -name '*.md' | head -50)
seed links $markdown $(find "$shared/markdown-specs" -name '*.txt')
seed article_pipeline $markdown
seed import_dump ../../shared/seeds/*.txt
seed import_wikitext $(find "$shared/wikipedia-wikitext" -name '*.txt' -o -name '*.wikitext' | head -60)

for target in front_matter links article_pipeline import_dump import_wikitext; do
  echo "== fuzz $target for ${seconds}s"
  cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 2>&1 | grep -E "^(#[0-9]+\s+DONE|==|Done|INFO: Running|SUMMARY|ERROR|thread|panicked)" || true
  if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz: $target found a failing input: $(ls "artifacts/$target")" >&2
    exit 1
  fi
done
echo "fuzz: every target ran ${seconds}s without a crash"
