#!/usr/bin/env bash
# Build every fuzz/fuzz_*.c as a libFuzzer binary (clang, ASan + UBSan) and
# run each for SECONDS seconds. Exits non-zero if a target fails to build or
# finds a crash, a sanitizer report or a broken invariant (abort()).
#
#   bash scripts/fuzz.sh [SECONDS]        (default 30)
#
# Sources: a target may name the files it needs on a line (or several)
#   " * fuzz-sources: src/a.c src/b.c"
# in its opening comment (keeps it independent of unrelated half-written
# code); otherwise it is linked with every src/**/*.c except src/main.c plus
# the project's libraries.
#
# Corpus: build/fuzz/corpus/NAME (grows; kept between runs), seeded from
# fuzz/corpus/NAME when that exists (read only). Crash inputs are written to
# build/fuzz/artifacts/NAME-crash-*; reproduce with build/fuzz/fuzz_NAME FILE.
# A libFuzzer dictionary fuzz/NAME.dict is used when present.
set -euo pipefail

secs="${1:-30}"
case "$secs" in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

cd "$(dirname "$0")/.."
CC="${FUZZ_CC:-clang}"
# shellcheck disable=SC2054 # the commas belong to -fsanitize=
CFLAGS=(-g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -Wall -Wextra
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-fno-omit-frame-pointer)
PKGS="libevent libevent_openssl libssl libcrypto libcrypt libunbound hiredis libcurl"

shopt -s nullglob
targets=(fuzz/fuzz_*.c)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz/fuzz_*.c targets" >&2
	exit 1
fi

mkdir -p build/fuzz/artifacts
failed=()

for t in "${targets[@]}"; do
	name="$(basename "$t" .c)"
	short="${name#fuzz_}"
	bin="build/fuzz/$name"
	# every " * fuzz-sources:" line counts (a long list may take several)
	line="$(grep -E '^ \* fuzz-sources:' "$t" | sed 's/^ \* fuzz-sources://' | tr '\n' ' ' || true)"
	if [ -n "${line// /}" ]; then
		read -r -a srcs <<<"$line"
		libs=()
	else
		mapfile -t srcs < <(find src -name '*.c' ! -path src/main.c | sort)
		# shellcheck disable=SC2086 # PKGS is a list of package names
		read -r -a libs <<<"$(pkg-config --cflags --libs $PKGS 2>/dev/null) -lpthread"
	fi
	echo "== build $name"
	if ! "$CC" "${CFLAGS[@]}" -o "$bin" "$t" "${srcs[@]}" "${libs[@]}"; then
		failed+=("$name (build)")
		continue
	fi
	corpus="build/fuzz/corpus/$short"
	mkdir -p "$corpus"
	dirs=("$corpus")
	[ -d "fuzz/corpus/$short" ] && dirs+=("fuzz/corpus/$short")
	dict=()
	[ -f "fuzz/$short.dict" ] && dict=(-dict="fuzz/$short.dict")
	echo "== run $name for ${secs}s"
	if ! ASAN_OPTIONS="abort_on_error=1:detect_leaks=1" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$short-" \
		"${dict[@]}" "${dirs[@]}"; then
		failed+=("$name")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz.sh: all ${#targets[@]} target(s) ran ${secs}s without findings"
