#!/usr/bin/env bash
# Builds Folio with profile-guided optimisation: a release build that counts what it runs,
# builds real sites with it, then a release build that lays out and inlines the code by those
# counts. The binary is `target/pgo/folio` (and `target/pgo/incremental_edit`, the serve
# benchmark, built the same way). It renders every site exactly as the plain release build
# does; it is faster (bench/RESULTS.md, twentieth round).
#
# The sites it learns from are real content, none of them the benchmark's generated corpus, so
# that the benchmark measures what the profile does for sites it has not seen:
#
# - the example site (the seed article), built and checked;
# - the real Wikipedia articles of ../shared/corpora, imported with `folio import` (wikitext
#   files and a compressed MediaWiki export), built into an empty folder and over it, checked,
#   and edited as `folio serve` rebuilds them (examples/incremental_edit.rs);
# - the 754 posts of a real Markdown blog;
# - the CommonMark, GFM and pulldown-cmark extension spec examples, one article each;
# - every fixture site under tests/fixtures, those with errors included.
#
# Needs `llvm-profdata` of the LLVM that rustc is built on (`rustc -vV` names it): rustup's
# `llvm-tools` component, Debian's `llvm-N` package, or the path in $LLVM_PROFDATA.
#
# Usage: bench/pgo.sh
#        BENCH_DIR=/dev/shm/bench FOLIO=target/pgo/folio PREVIOUS=target/release/folio \
#            bench/run.sh 10000 5          (the two builds side by side)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
shared=$repo/../shared
out=$repo/target/pgo
counts=$out/counts

llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
host=$(rustc -vV | sed -n 's/^host: //p')
# $LLVM_PROFDATA if set, or else the first `llvm-profdata` found of rustc's LLVM version:
# another version may not read the counts, or read them wrongly.
find_profdata() {
  local candidate
  if [ -n "${LLVM_PROFDATA:-}" ]; then
    command -v "$LLVM_PROFDATA" || {
      echo "error: LLVM_PROFDATA=$LLVM_PROFDATA: no such program" >&2
      exit 1
    }
    return
  fi
  for candidate in "$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata" \
    "llvm-profdata-$llvm_major" "/usr/lib/llvm-$llvm_major/bin/llvm-profdata" llvm-profdata; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" --version 2>/dev/null | grep -q "LLVM version $llvm_major\."; then
      command -v "$candidate"
      return
    fi
  done
  echo "error: no llvm-profdata of LLVM $llvm_major (rustc's) found: run" \
    "\`rustup component add llvm-tools\`, install Debian's llvm-$llvm_major," \
    "or set LLVM_PROFDATA" >&2
  exit 1
}
profdata=$(find_profdata)
[ -d "$shared/corpora" ] || {
  echo "error: ../shared (its corpora are what the profile is made from) must sit beside" \
    "the repository" >&2
  exit 1
}

# "build_with FLAG TARGET_DIR": the release binary and the serve benchmark, built with the
# extra code-generation flag into their own folder (the plain build's stays as it is).
build_with() {
  RUSTFLAGS="${RUSTFLAGS:-} $1" cargo build --release --locked --quiet --target-dir "$2" \
    --bin folio --example incremental_edit
}

echo "== 1. the build that counts (target/pgo/counting)"
build_with "-Cprofile-generate=$counts" "$out/counting"
# The compiler's build scripts counted themselves on the way: not what Folio runs.
rm -rf "$counts"
folio=$out/counting/release/folio
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== 2. real sites built with it"
"$folio" build "$repo" --dest-dir "$work/example" --quiet
"$folio" check "$repo" >/dev/null

wiki=$work/wikipedia
"$folio" init "$wiki" >/dev/null
rm -f "$wiki"/content/*.md
"$folio" import --out "$wiki/content" --force "$shared/seeds/000_f0cda784ed447746.txt" \
  "$shared/corpora/wikipedia-wikitext/dbpedia-minidump-en/enwiki-minidump.xml.bz2" \
  "$shared"/corpora/wikipedia-wikitext/wtf_wikipedia-tests-cache/* >"$work/import.log" 2>&1 || {
  cat "$work/import.log" >&2
  exit 1
}
"$folio" build "$wiki" --dest-dir "$work/wikipedia-site" --quiet
"$folio" build "$wiki" --dest-dir "$work/wikipedia-site" --quiet
"$folio" check "$wiki" >/dev/null || true
"$out/counting/release/examples/incremental_edit" "$wiki" >/dev/null

# "learn_from NAME TITLE SOURCE": a site called TITLE whose articles the Python program on
# the standard input writes from SOURCE into NAME/content, built (its warnings in NAME.log).
learn_from() {
  local site=$work/$1
  mkdir -p "$site/content"
  printf '[book]\ntitle = "%s"\n' "$2" >"$site/book.toml"
  python3 - "$3" "$site/content"
  "$folio" build "$site" --dest-dir "$site-site" --quiet >"$site.log" 2>&1 || {
    cat "$site.log" >&2
    exit 1
  }
}

learn_from specs "Markdown spec examples" "$shared/corpora/markdown-specs" <<'EOF'
import json, pathlib, sys
corpus, content = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for spec in sorted(corpus.glob("*/*.json")):
    for n, example in enumerate(json.loads(spec.read_text())):
        title = f"{spec.parent.name} {spec.stem} {n + 1}"
        page = f'+++\ntitle = "{title}"\n+++\n\n{example["markdown"]}'
        (content / f"{spec.parent.name}-{spec.stem}-{n + 1}.md").write_text(page)
EOF

# The real blog's posts, their front matter cut down to Folio's title and description.
learn_from blog "A blog" "$shared/corpora/rust-blog/content" <<'EOF'
import json, pathlib, sys, tomllib
source, content = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for post in sorted(source.rglob("*.md")):
    text = post.read_text()
    front, body = {}, text
    if text.startswith("+++\n"):
        raw, _, body = text[4:].partition("\n+++")
        front = tomllib.loads(raw)
    keep = "".join(f"{key} = {json.dumps(front[key], ensure_ascii=False)}\n"
                   for key in ("title", "description") if isinstance(front.get(key), str))
    target = content / post.relative_to(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"+++\n{keep}+++{body}")
EOF

n=0
for site in tests/fixtures/*/*/; do
  [ -f "$site/book.toml" ] || continue
  n=$((n + 1))
  # Error cases fail, as they should: their path through the code counts too.
  "$folio" build "$site" --dest-dir "$work/fixture-$n" --quiet >/dev/null 2>&1 || true
done

echo "== 3. the counts merged ($profdata)"
"$profdata" merge -o "$out/folio.profdata" "$counts"

echo "== 4. the build laid out by them (target/pgo/optimised)"
build_with "-Cprofile-use=$out/folio.profdata" "$out/optimised"
cp "$out/optimised/release/folio" "$out/optimised/release/examples/incremental_edit" "$out/"
echo "pgo: $out/folio"
