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
SAMSA_TEST_CLUSTER=3 go test -count=1 -timeout 20m ./internal/broker/

echo "== fuzz ($fuzztime each)"
# Every Fuzz function, run on its own: go test -fuzz takes one target at a time.
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "-- $pkg $name"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
echo "== all checks passed"
