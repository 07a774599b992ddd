#!/usr/bin/env bash
# Creates mmstream's topics on the compose cluster (idempotent: --if-not-exists). The same commands, with your
# partition counts and replication factor, create them on any Kafka (deploy/README.md, "Topics").
set -euo pipefail
: "${BOOTSTRAP:?set BOOTSTRAP to the bootstrap servers}" "${PREFIX:=mmstream.}" "${PARTITIONS:=6}" "${RF:=3}"
topics=/opt/kafka/bin/kafka-topics.sh

create() {  # name partitions [--config k=v ...]
  local name=$1 partitions=$2
  shift 2
  "$topics" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$PREFIX$name" \
    --partitions "$partitions" --replication-factor "$RF" "$@"
}

# the input: partitions bound the number of workers that share the load
create posts "$PARTITIONS" --config max.message.bytes=8388608
# posts with video or audio, routed there by the text lane, keyed by post id (docs/architecture.md, "Lanes"):
# its partitions bound the number of media workers
create media "$PARTITIONS" --config max.message.bytes=8388608
# results keyed by post id: compacted (a replayed post replaces its earlier record)
create enriched "$PARTITIONS" --config cleanup.policy=compact
create dead-letter 3
# the analytics: exactly one partition, kept (a worker taking the engine over replays it)
create mentions 1 --config retention.ms=-1
create late 1
for name in brand-stats topics alerts; do
  create "$name" 1 --config cleanup.policy=compact
done
"$topics" --bootstrap-server "$BOOTSTRAP" --list | grep "^$PREFIX"
