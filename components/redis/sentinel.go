package redis

import (
	"fmt"
	"strconv"
	"strings"
)

// SentinelPort is Redis Sentinel's port, beside Redis in every pod when Args.Replicas >= 3.
const SentinelPort = 26379

// masterName is the name the Sentinels monitor the master under.
const masterName = "redis"

// configDir is where the init container writes the configuration of Redis and of Sentinel (an
// emptyDir in memory: the files hold the password).
const configDir = "/config"

// useSentinel says whether the pods run Sentinel, which promotes a replica when the master fails:
// with three or more pods, so that a majority of Sentinels remains after one pod's loss.
func useSentinel(replicas int) bool { return replicas >= 3 }

// quorum is how many Sentinels must agree the master is down: a majority of the pods.
func quorum(replicas int) int { return replicas/2 + 1 }

// maxMemory is Redis's maxmemory, 80% of the container's memory (a size checked by validate).
func maxMemory(a Args) string {
	m := memory.FindStringSubmatch(a.Memory)
	mb, _ := strconv.Atoi(m[1]) // digits only: the pattern was checked in validate
	if m[2] == "Gi" {
		mb *= 1024
	}
	return fmt.Sprintf("%dmb", mb*8/10)
}

// headlessDomain is the domain of the pods' names under the headless Service, fully qualified as
// HAProxy's resolver needs it (it applies no search domains).
func headlessDomain(namespace string) string {
	return "redis-headless." + namespace + ".svc.cluster.local"
}

// podHost is the stable DNS name of pod i.
func podHost(namespace string, i int) string {
	return fmt.Sprintf("redis-%d.%s", i, headlessDomain(namespace))
}

// initScript is the init container's shell script: it writes redis.conf (and with Sentinel,
// sentinel.conf) into $CONFIG_DIR, with the password from $REDIS_PASSWORD, so the password is in
// neither the pod spec nor a command line. Everything that differs between pods, or between the
// cluster and a test on loopback, comes from the environment:
//
//	CONFIG_DIR      where to write the files
//	REDIS_PASSWORD  the password of Redis and of Sentinel
//	REDISCLI_AUTH   the same password, for redis-cli asking the peers' Sentinels (Sentinel only)
//	REDIS_HOST      this pod's address, as the others reach it (Sentinel only)
//	REDIS_PEERS     every pod's address, pod 0 first, separated by spaces (Sentinel only)
//
// With Sentinel the pod asks its peers' Sentinels which pod is the master now and replicates it,
// or starts as the master if that is itself. Only when no Sentinel answers (a fresh start, or
// every pod lost at once) is pod 0 the master.
func initScript(a Args) string {
	var b strings.Builder
	b.WriteString("set -euf\numask 077\n")
	if !useSentinel(a.Replicas) {
		b.WriteString(`: "${CONFIG_DIR:?}" "${REDIS_PASSWORD:?}"` + "\n")
		writeRedisConf(&b, a, false)
		return b.String()
	}
	b.WriteString(`: "${CONFIG_DIR:?}" "${REDIS_PASSWORD:?}" "${REDISCLI_AUTH:?}" "${REDIS_HOST:?}" "${REDIS_PEERS:?}"` + "\n")
	fmt.Fprintf(&b, `master=
for peer in $REDIS_PEERS; do
  [ "$peer" = "$REDIS_HOST" ] && continue
  set -- $(timeout 5 redis-cli --raw -h "$peer" -p %[1]d SENTINEL get-master-addr-by-name %[2]s 2>/dev/null || true)
  if [ $# -eq 2 ] && [ "$2" = %[3]d ]; then
    master=$1
    echo "the Sentinel of $peer says the master is $master"
    break
  fi
done
if [ -z "$master" ]; then
  set -- $REDIS_PEERS
  master=$1
  echo "no Sentinel answered (a fresh start): the master is the first pod, $master"
fi
`, SentinelPort, masterName, Port)
	writeRedisConf(&b, a, true)
	fmt.Fprintf(&b, `if [ "$master" = "$REDIS_HOST" ]; then
  echo "starting as the master"
else
  echo "replicaof $master %[1]d" >>"$CONFIG_DIR/redis.conf"
  echo "starting as a replica of $master"
fi
cat >"$CONFIG_DIR/sentinel.conf" <<EOF
port %[2]d
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $REDIS_HOST
sentinel announce-port %[2]d
requirepass "$REDIS_PASSWORD"
sentinel monitor %[3]s $master %[1]d %[4]d
sentinel auth-pass %[3]s "$REDIS_PASSWORD"
sentinel down-after-milliseconds %[3]s 5000
sentinel failover-timeout %[3]s 60000
sentinel parallel-syncs %[3]s 1
EOF
`, Port, SentinelPort, masterName, quorum(a.Replicas))
	return b.String()
}

// writeRedisConf adds to the script the lines that write redis.conf: append-only persistence (in
// the directory the command line names: Redis changes to it while it reads the file), the
// cache's memory bound and the password. With Sentinel the pod announces its own
// address to the master, and a master without a replica that is at most 10 s behind refuses
// writes, so an old master cut off from the others stops taking writes that the new master
// would never see.
func writeRedisConf(b *strings.Builder, a Args, sentinel bool) {
	fmt.Fprintf(b, `cat >"$CONFIG_DIR/redis.conf" <<EOF
port %d
appendonly yes
appendfsync everysec
maxmemory %s
maxmemory-policy allkeys-lru
requirepass "$REDIS_PASSWORD"
masterauth "$REDIS_PASSWORD"
`, Port, maxMemory(a))
	if sentinel {
		b.WriteString("replica-announce-ip $REDIS_HOST\nmin-replicas-to-write 1\nmin-replicas-max-lag 10\n")
	}
	b.WriteString("EOF\n")
}
