#!/usr/bin/env bash
# A throwaway Redis on 127.0.0.1 for development and tests (Debian's redis-server, installed if missing).
#   deploy/redis.sh start PORT DIR   |   deploy/redis.sh stop PORT
set -euo pipefail
cmd=${1:?start|stop}; port=${2:?port}
case "$cmd" in
  start)
    dir=${3:?state directory}
    if ! command -v redis-server >/dev/null 2>&1; then
      sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
      $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq redis-server >/dev/null
    fi
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
      --daemonize yes --pidfile "$dir/redis-$port.pid" --logfile "$dir/redis-$port.log"
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && exit 0; sleep 0.1; done
    echo "redis on 127.0.0.1:$port did not start; see $dir/redis-$port.log" >&2; exit 1 ;;
  stop)
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 start PORT DIR | stop PORT" >&2; exit 1 ;;
esac
