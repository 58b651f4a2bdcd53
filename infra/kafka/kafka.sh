#!/usr/bin/env bash
# skillstream's local Apache Kafka broker: single-node KRaft (broker + controller)
# on 127.0.0.1, assembled from Maven Central. No Docker needed.
#
#   infra/kafka/kafka.sh up      fetch (once), format (once), start, wait until it answers
#   infra/kafka/kafka.sh down    stop the broker started by `up` (by its recorded pid)
#   infra/kafka/kafka.sh clean   stop it and delete its data and logs
#   infra/kafka/kafka.sh status  say whether it runs and where
#
# Environment:
#   SKILLSTREAM_KAFKA_HOME   where jars, data and logs live (default: <repo>/.local/kafka)
#   SKILLSTREAM_KAFKA_PORT   broker port (default 19092; the controller uses PORT+1)
#   SKILLSTREAM_KAFKA_HEAP   JVM heap (default 1g)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
home=${SKILLSTREAM_KAFKA_HOME:-$repo/.local/kafka}
port=${SKILLSTREAM_KAFKA_PORT:-19092}
cport=$((port + 1))
heap=${SKILLSTREAM_KAFKA_HEAP:-1g}
lib=$home/lib
data=$home/data
logs=$home/logs
pidfile=$home/broker.pid
conf=$home/server.properties

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_tools() {
  command -v java >/dev/null 2>&1 || die "Java 17+ is required but 'java' is not on PATH. Install it (Debian: apt-get install openjdk-17-jre-headless)."
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "Java 17+ is required, found Java ${major:-unknown}. Install a newer JDK or point PATH at one."
}

fetch() {
  # The jar list is cached under $lib, stamped with the pom's checksum: a second
  # run downloads nothing, a changed pom refetches.
  local stamp want
  want=$(sha256sum "$here/pom.xml" | cut -d' ' -f1)
  stamp=$lib/.pom.sha256
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "Maven is required to fetch Kafka from Maven Central but 'mvn' is not on PATH. Install it (Debian: apt-get install maven)."
  say "fetching Apache Kafka from Maven Central into $lib (once)"
  rm -rf "$lib.tmp"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib.tmp" -DincludeScope=runtime >&2 \
    || die "Maven could not fetch the Kafka artifacts (see the output above): is Maven Central reachable?"
  rm -rf "$lib"
  mv "$lib.tmp" "$lib"
  echo "$want" >"$stamp"
}

write_config() {
  mkdir -p "$data" "$logs"
  cat >"$conf" <<EOF
# written by infra/kafka/kafka.sh; edit the script, not this file
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=4
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=-1
log.cleaner.backoff.ms=2000
EOF
  cat >"$home/log4j2.properties" <<EOF
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $logs/server.log
appender.file.filePattern = $logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.org.name = org.apache.kafka
logger.org.level = INFO
EOF
}

tool() {
  java -Xmx256m -Dlog4j2.configurationFile="$home/log4j2.properties" -cp "$lib/*" "$@"
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  # Only our broker: the pid must still be a java process using this home.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$home" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

up() {
  need_tools
  if pid=$(running_pid); then
    say "already running (pid $pid)"
    echo "127.0.0.1:$port"
    return 0
  fi
  if port_open "$port"; then
    die "port $port is taken by another process; stop it or set SKILLSTREAM_KAFKA_PORT to a free port."
  fi
  fetch
  write_config
  if [ ! -f "$data/meta.properties" ]; then
    local id
    id=$(tool kafka.tools.StorageTool random-uuid)
    tool kafka.tools.StorageTool format -t "$id" -c "$conf" >"$logs/format.log" 2>&1 \
      || die "formatting KRaft storage failed; see $logs/format.log"
  fi
  local t0=$SECONDS
  # Each start gets a fresh log (the previous one is kept as server.log.previous),
  # so an earlier run's "started" line cannot answer for this one.
  [ -f "$logs/server.log" ] && mv -f "$logs/server.log" "$logs/server.log.previous"
  # setsid: the broker outlives the shell (and make) that started it.
  setsid java -Xms256m -Xmx"$heap" -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$home/log4j2.properties" \
    -cp "$lib/*" kafka.Kafka "$conf" >"$logs/stdout.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pidfile"
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pidfile"
      tail -n 20 "$logs/server.log" "$logs/stdout.log" >&2 2>/dev/null || true
      die "the broker exited during start-up; its log is $logs/server.log"
    fi
    if port_open "$port" && grep -q "Kafka Server started" "$logs/server.log" 2>/dev/null; then
      say "broker up in $((SECONDS - t0))s (pid $pid); log: $logs/server.log"
      echo "127.0.0.1:$port"
      return 0
    fi
    sleep 0.2
  done
  die "the broker did not answer within 120s; its log is $logs/server.log"
}

down() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pidfile"
    say "not running"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "stopped (pid $pid)"; return 0; }
    sleep 0.1
  done
  say "broker did not stop within 30s; killing it"
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

clean() {
  down
  rm -rf "$data" "$logs" "$conf" "$home/log4j2.properties"
  say "data removed from $home"
}

status() {
  if pid=$(running_pid); then
    say "running (pid $pid) at 127.0.0.1:$port; log: $logs/server.log"
  else
    say "not running"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  clean) clean ;;
  status) status ;;
  *) die "usage: $0 up|down|clean|status" ;;
esac
