#!/usr/bin/env bash
# Installs the Debian packages the test suites need, when they are missing (run before `npm test`
# by npm's pretest hook, and by .ci/run):
#   java              AWS DynamoDB Local (the storage suite runs against it as well as dynalite)
#   promtool, prometheus   the operations tests (config/rules checks, a real Prometheus)
#   docker-compose    validates docker-compose.yml without a Docker daemon
#   openssl           makes the certificates of the TLS tests
#   mosquitto_pub     a client not written by the project (interoperability tests)
#   haproxy, redis-server  the scale-out tests (load balancer with PROXY protocol, cluster mode)
#   chromium          the console's browser test
# Packages that start a system service on install (prometheus, redis, haproxy) are kept from
# starting one: a policy-rc.d answering 101 is in place for the install only. Nothing running on
# the machine is stopped or killed.
set -euo pipefail

need=()
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ "${#need[@]}" -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "npm test needs Debian packages: ${need[*]} (apt-get install -y ${need[*]})" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "npm test needs: java (a JRE), prometheus (with promtool), docker-compose, openssl, mosquitto-clients, haproxy, redis-server, chromium; install them with your package manager" >&2
  exit 1
fi
echo "installing Debian packages for the test suites: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then "${sudo[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
