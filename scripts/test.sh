#!/usr/bin/env bash
# Runs Samsa's whole test suite: formatting, go vet, staticcheck, every test with the
# race detector, then each fuzz target for a short time. Needs only Go (and, on Debian as
# root, installs kcat for the console tools' interop tests): the linter is a tool
# dependency in go.mod and is fetched by the go command.
#
#   FUZZTIME=30s bash scripts/test.sh   # fuzz longer
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh  # kcat, for the console tools' interop tests

fuzztime=${FUZZTIME:-8s}

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
go tool staticcheck ./...

echo "== go test -race"
go test -race -count=1 -timeout 25m ./...

echo "== the broker's client tests against a three-node cluster"
# The same suite, each test's broker replaced by three in-process nodes (replication
# factor 3). Without -race: the race detector already ran over this code above.
SAMSA_TEST_CLUSTER=3 go test -count=1 -timeout 20m ./internal/broker/ ./internal/cli/

echo "== fuzz ($fuzztime each)"
# count_inputs prints how many inputs a fuzz corpus directory holds (0 if none).
count_inputs() {
  if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi
}
# Every Fuzz function, run on its own: go test -fuzz takes one target at a time.
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "-- $pkg $name"
    corpus="$pkg/testdata/fuzz/$name"
    before=$(count_inputs "$corpus")
    if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"; then
      # A failing input is always written to testdata/fuzz. Without one, the failure is
      # the fuzzing engine's own ("context deadline exceeded" from a worker busy when the
      # time ran out, seen on a loaded machine): run the target once more.
      if [ "$(count_inputs "$corpus")" -ne "$before" ]; then
        echo "fuzzing $name found a failing input in $corpus"; exit 1
      fi
      echo "-- $pkg $name failed without a failing input; running it again"
      go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
    fi
  done
done
echo "== all checks passed"
