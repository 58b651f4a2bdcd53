#!/usr/bin/env bash
# skillstream's local Apache Kafka broker: single-node KRaft (broker + controller)
# on 127.0.0.1, assembled from Maven Central. No Docker needed.
#
#   infra/kafka/kafka.sh up          fetch (once), make certificates and credentials (once),
#                                    format (once), start, wait until it answers
#   infra/kafka/kafka.sh down        stop the broker started by `up` (by its recorded pid)
#   infra/kafka/kafka.sh clean       stop it and delete its data, logs, certificates and credentials
#   infra/kafka/kafka.sh status      say whether it runs and where
#   infra/kafka/kafka.sh secure-env  print the `export` lines a SASL_SSL client needs
#
# Listeners, all on 127.0.0.1 (docs/security.md has the details):
#   PORT     PLAINTEXT   what the tests, the demo and the benchmark use by default
#   PORT+1   CONTROLLER  KRaft only; clients never connect here
#   PORT+2   SASL_SSL    TLS (certificate from a throwaway CA under $home/tls) +
#                        SASL SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN (user and
#                        password in $home/sasl/credentials.env)
#
# Environment:
#   SKILLSTREAM_KAFKA_HOME       where jars, data and logs live (default: <repo>/.local/kafka)
#   SKILLSTREAM_KAFKA_PORT       broker port (default 19092; the controller uses PORT+1)
#   SKILLSTREAM_KAFKA_SASL_PORT  SASL_SSL port (default PORT+2)
#   SKILLSTREAM_KAFKA_HEAP       JVM heap (default 1g)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
home=${SKILLSTREAM_KAFKA_HOME:-$repo/.local/kafka}
port=${SKILLSTREAM_KAFKA_PORT:-19092}
cport=$((port + 1))
sport=${SKILLSTREAM_KAFKA_SASL_PORT:-$((port + 2))}
heap=${SKILLSTREAM_KAFKA_HEAP:-1g}
lib=$home/lib
data=$home/data
logs=$home/logs
pidfile=$home/broker.pid
conf=$home/server.properties
tls=$home/tls
sasl=$home/sasl
cafile=$tls/ca.pem
untrusted_cafile=$tls/untrusted-ca.pem
keystore=$tls/broker-keystore.pem
client_cert=$tls/client.pem
client_key=$tls/client.key
credentials=$sasl/credentials.env
client_props=$sasl/client.properties
scram_stamp=$sasl/scram.applied
sasl_user=skillstream

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_tools() {
  command -v java >/dev/null 2>&1 || die "Java 17+ is required but 'java' is not on PATH. Install it (Debian: apt-get install openjdk-17-jre-headless)."
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "Java 17+ is required, found Java ${major:-unknown}. Install a newer JDK or point PATH at one."
  command -v openssl >/dev/null 2>&1 || die "OpenSSL is required to make the SASL_SSL listener's test certificates but 'openssl' is not on PATH. Install it (Debian: apt-get install openssl)."
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

make_tls() {
  # A throwaway CA, the broker's certificate for 127.0.0.1/localhost signed by it,
  # a client certificate signed by it (for mutual TLS), and a second, unrelated
  # CA that a client can "trust" to see verification fail. Made once; `clean`
  # deletes them; made again when the broker certificate expires within a day.
  if [ -s "$cafile" ] && [ -s "$untrusted_cafile" ] && [ -s "$keystore" ] \
    && [ -s "$client_cert" ] && [ -s "$client_key" ] \
    && openssl x509 -checkend 86400 -noout -in "$tls/broker.pem" >/dev/null 2>&1; then
    return 0
  fi
  say "making a throwaway CA and certificates in $tls"
  local d=$tls.tmp
  rm -rf "$d"
  (umask 077 && mkdir -p "$d")
  # Extensions Python's ssl accepts with VERIFY_X509_STRICT (on by default from 3.13).
  cat >"$d/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
  local stamp
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  # Every step is chained with &&: errexit does not apply inside a `( ... ) || die`.
  (
    cd "$d" && umask 077 &&
    ossl() { openssl "$@" >>openssl.log 2>&1; } &&
    sign() { # name, CN, extensions section
      ossl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
        -subj "/O=skillstream/CN=$2" -config openssl.cnf &&
      ossl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
        -days 825 -extfile openssl.cnf -extensions "$3" -out "$1.pem"
    } &&
    ossl req -x509 -new -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
      -subj "/O=skillstream/CN=skillstream local test CA $stamp" -config openssl.cnf -extensions ca &&
    ossl req -x509 -new -newkey rsa:2048 -nodes -keyout untrusted-ca.key -out untrusted-ca.pem -days 3650 \
      -subj "/O=skillstream/CN=skillstream UNTRUSTED test CA $stamp" -config openssl.cnf -extensions ca &&
    sign broker localhost server &&
    sign client skillstream client &&
    # Kafka's PEM keystore: the private key (PKCS#8, unencrypted), then the chain.
    cat broker.key broker.pem ca.pem >broker-keystore.pem &&
    ossl verify -CAfile ca.pem broker.pem client.pem &&
    rm -f ./*.csr untrusted-ca.key openssl.cnf &&
    chmod 644 ca.pem untrusted-ca.pem broker.pem client.pem &&
    chmod 755 .
  ) || die "making the test certificates failed; see $d/openssl.log"
  rm -f "$d/openssl.log"
  rm -rf "$tls"
  mv "$d" "$tls"
}

make_credentials() {
  # The SASL user the broker knows from the start: one user, one random password,
  # for SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN. Made once; `clean` deletes it.
  if [ ! -s "$credentials" ]; then
    (umask 077 && mkdir -p "$sasl")
    local password
    password=$(openssl rand -hex 16)
    (umask 077 && cat >"$credentials.tmp" <<EOF
# written by infra/kafka/kafka.sh: the local broker's SASL_SSL user
KAFKA_SASL_USERNAME=$sasl_user
KAFKA_SASL_PASSWORD=$password
KAFKA_SASL_MECHANISM=SCRAM-SHA-256
EOF
    )
    mv "$credentials.tmp" "$credentials"
  fi
  sasl_password=$(sed -n 's/^KAFKA_SASL_PASSWORD=//p' "$credentials")
  [ -n "$sasl_password" ] || die "$credentials has no KAFKA_SASL_PASSWORD line; delete it and run up again"
  # For Kafka's own command-line tools: --command-config "$client_props".
  (umask 077 && cat >"$client_props" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$sasl_user" password="$sasl_password";
ssl.truststore.type=PEM
ssl.truststore.location=$cafile
EOF
  )
}

scram_fingerprint() {
  # Which data directory holds which password: the cluster id and a hash of the credentials.
  local cluster
  cluster=$(sed -n 's/^cluster\.id=//p' "$data/meta.properties" 2>/dev/null || true)
  printf '%s %s\n' "$cluster" "$(printf '%s:%s' "$sasl_user" "$sasl_password" | sha256sum | cut -d' ' -f1)"
}

ensure_scram_users() {
  # Storage formatted by this script has the SCRAM users from the start
  # (StorageTool --add-scram). Storage formatted by an older kafka.sh, or
  # credentials made after it, get them here, once, through the running broker.
  local want
  want=$(scram_fingerprint)
  if [ -f "$scram_stamp" ] && [ "$(cat "$scram_stamp")" = "$want" ]; then
    return 0
  fi
  say "adding the SCRAM user '$sasl_user' to existing storage (once)"
  local mechanism
  : >"$logs/scram.log"
  # One mechanism per call: the broker refuses two credentials of one user in one request.
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    tool kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$port" --alter \
      --entity-type users --entity-name "$sasl_user" \
      --add-config "$mechanism=[password=$sasl_password]" \
      >>"$logs/scram.log" 2>&1 \
      || die "could not add the SCRAM user (see $logs/scram.log); the broker runs, but SASL_SSL logins will fail until \`make kafka-up\` succeeds"
  done
  (umask 077 && echo "$want" >"$scram_stamp")
}

sasl_address() {
  # The SASL_SSL address of the broker as configured (the running one's, if any).
  local configured
  configured=$(sed -n 's/^advertised\.listeners=.*SASL_SSL:\/\/\([^,]*\).*/\1/p' "$conf" 2>/dev/null || true)
  echo "${configured:-127.0.0.1:$sport}"
}

has_sasl_listener() { grep -q '^listeners=.*SASL_SSL://' "$conf" 2>/dev/null; }

describe_sasl() {
  if has_sasl_listener; then
    say "SASL_SSL at $(sasl_address) (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN); CA to trust: $cafile; user and password: $credentials (\`bash infra/kafka/kafka.sh secure-env\` prints them as exports)"
  else
    say "this broker has no SASL_SSL listener (an older kafka.sh started it): \`make kafka-down && make kafka-up\` adds one"
  fi
}

tls_answers() {
  # The SASL_SSL port completes a TLS handshake whose certificate the CA verifies for 127.0.0.1.
  local host=${1%:*} p=${1##*:}
  timeout 10 openssl s_client -connect "$host:$p" -CAfile "$cafile" -verify_ip "$host" \
    -verify_return_error </dev/null >"$logs/tls-check.log" 2>&1
}

write_config() {
  mkdir -p "$data" "$logs"
  (umask 077 && : >"$conf") && chmod 600 "$conf"  # it holds the PLAIN password
  cat >"$conf" <<EOF
# written by infra/kafka/kafka.sh; edit the script, not this file
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_SSL://127.0.0.1:$sport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
# SASL_SSL: TLS with the certificate of make_tls, then SCRAM (users in the
# metadata log, added at format time) or PLAIN (the user below).
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$sasl_password";
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$keystore
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$cafile
# A client certificate is optional; one that is presented must come from the CA.
listener.name.sasl_ssl.ssl.client.auth=requested
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
  # Command-line tools (StorageTool, ConfigCommand) log warnings to stderr, never
  # into the broker's server.log.
  cat >"$home/tools-log4j2.properties" <<EOF
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

tool() {
  java -Xmx256m -Dlog4j2.configurationFile="$home/tools-log4j2.properties" -cp "$lib/*" "$@"
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
    if has_sasl_listener && [ -s "$credentials" ]; then
      make_credentials
      ensure_scram_users
    fi
    describe_sasl
    echo "127.0.0.1:$port"
    return 0
  fi
  local p what
  for p in "$port" "$cport" "$sport"; do
    if port_open "$p"; then
      case "$p" in
        "$port") what="the broker port" ;;
        "$cport") what="the controller port (PORT+1)" ;;
        *) what="the SASL_SSL port (SKILLSTREAM_KAFKA_SASL_PORT, default PORT+2)" ;;
      esac
      die "port $p, $what, is taken by another process; stop it or set SKILLSTREAM_KAFKA_PORT to a free range (the broker uses PORT, PORT+1 and PORT+2)."
    fi
  done
  fetch
  make_tls
  make_credentials
  write_config
  if [ ! -f "$data/meta.properties" ]; then
    local id
    id=$(tool kafka.tools.StorageTool random-uuid)
    # The SCRAM user goes into the metadata log at format time: the broker
    # knows it from its first start, no admin call needed.
    tool kafka.tools.StorageTool format -t "$id" -c "$conf" \
      --add-scram "SCRAM-SHA-256=[name=$sasl_user,password=$sasl_password]" \
      --add-scram "SCRAM-SHA-512=[name=$sasl_user,password=$sasl_password]" \
      >"$logs/format.log" 2>&1 \
      || die "formatting KRaft storage failed; see $logs/format.log"
    (umask 077 && scram_fingerprint >"$scram_stamp")
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
      local bind
      bind=$(grep -o 'failed to bind to [^ ]*' "$logs/server.log" 2>/dev/null | head -n 1 || true)
      if [ -n "$bind" ]; then
        # Also happens when a client connection holds the port as its local
        # (ephemeral) port: ports from 32768 up are handed out that way.
        die "the broker exited during start-up: it ${bind%:}, which is in use (possibly as the local port of a client connection); set SKILLSTREAM_KAFKA_PORT to another range, e.g. below 32768; its log is $logs/server.log"
      fi
      die "the broker exited during start-up; its log is $logs/server.log"
    fi
    if port_open "$port" && port_open "$sport" && grep -q "Kafka Server started" "$logs/server.log" 2>/dev/null; then
      tls_answers "127.0.0.1:$sport" \
        || die "the broker runs (pid $pid) but its SASL_SSL port $sport did not complete a TLS handshake the CA verifies; see $logs/tls-check.log and $logs/server.log"
      ensure_scram_users
      say "broker up in $((SECONDS - t0))s (pid $pid); log: $logs/server.log"
      describe_sasl
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
  rm -rf "$data" "$logs" "$conf" "$home/log4j2.properties" "$home/tools-log4j2.properties" "$tls" "$tls.tmp" "$sasl"
  say "data, certificates and credentials removed from $home"
}

status() {
  if pid=$(running_pid); then
    say "running (pid $pid) at 127.0.0.1:$port; log: $logs/server.log"
    describe_sasl
  else
    say "not running"
    return 1
  fi
}

secure_env() {
  # `eval "$(bash infra/kafka/kafka.sh secure-env)"`: what a client of the
  # SASL_SSL listener needs, as shell exports.
  if running_pid >/dev/null && ! has_sasl_listener; then
    die "the running broker has no SASL_SSL listener (an older kafka.sh started it): \`make kafka-down && make kafka-up\` adds one"
  fi
  [ -s "$credentials" ] && [ -s "$cafile" ] \
    || die "no SASL_SSL certificates or credentials under $home yet: \`make kafka-up\` makes them"
  running_pid >/dev/null || say "note: the broker is not running; \`make kafka-up\` starts it"
  local name value
  printf 'export %s=%q\n' KAFKA_SASL_BOOTSTRAP "$(sasl_address)"
  while IFS='=' read -r name value; do
    case "$name" in
      KAFKA_SASL_USERNAME | KAFKA_SASL_PASSWORD | KAFKA_SASL_MECHANISM) printf 'export %s=%q\n' "$name" "$value" ;;
    esac
  done <"$credentials"
  printf 'export %s=%q\n' KAFKA_SSL_CAFILE "$cafile" KAFKA_SSL_UNTRUSTED_CAFILE "$untrusted_cafile" \
    KAFKA_SSL_CERTFILE "$client_cert" KAFKA_SSL_KEYFILE "$client_key"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  clean) clean ;;
  status) status ;;
  secure-env) secure_env ;;
  *) die "usage: $0 up|down|clean|status|secure-env" ;;
esac
