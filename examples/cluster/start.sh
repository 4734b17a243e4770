#!/usr/bin/env bash
# Starts a three-node Samsa cluster on this machine for trying it out: nodes 1, 2 and 3
# with the properties files beside this script, clients on 127.0.0.1:9192, :9292 and
# :9392. Data and logs go to ./samsa-cluster-data (relative to where you run it).
# Ctrl-C stops all three cleanly.
#
#   bash examples/cluster/start.sh
#   samsa topics --bootstrap-server 127.0.0.1:9192 --create --topic t --partitions 3 --replication-factor 3
#
# SAMSA_BIN names a samsa binary to use instead of building one; SAMSA_CONFIG_DIR a
# directory with other node-1/2/3.properties.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
config_dir=${SAMSA_CONFIG_DIR:-$here}
bin=${SAMSA_BIN:-}
if [ -z "$bin" ]; then
  bin=$(mktemp -d)/samsa
  echo "building samsa into $bin"
  (cd "$here/../.." && go build -o "$bin" ./cmd/samsa)
fi
mkdir -p samsa-cluster-data

pids=()
stop() {
  trap - INT TERM
  echo "stopping the cluster"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop INT TERM

for i in 1 2 3; do
  "$bin" server -c "$config_dir/node-$i.properties" >"samsa-cluster-data/node-$i.log" 2>&1 &
  pids+=($!)
  echo "node $i: pid $!, log samsa-cluster-data/node-$i.log"
done
echo "cluster starting; bootstrap servers: $(grep -h '^advertised.listeners' "$config_dir"/node-*.properties | sed 's/.*PLAINTEXT:\/\///' | paste -sd, -)"
# Exit (stopping the others) if any node dies.
wait -n "${pids[@]}" || true
echo "a node exited; see its log"
stop
