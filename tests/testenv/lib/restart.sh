# Restarts one component of the running control plane, for fault tests: stops the process
# recorded for it, starts it again with the flags and ports `up` gave it and records the new
# PID. etcd keeps its data dir ($TESTENV_DIR/etcd), so the cluster's state survives.
# Sourced by tests/testenv/testenv after lib/up.sh, whose functions it reuses.

COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"

restart() {
  local name=${1:-} pid
  [[ " $COMPONENTS " == *" $name "* ]] || die "usage: testenv restart ${COMPONENTS// / | }"
  [ -s "$PIDS" ] && [ -f "$PORTS_FILE" ] || die "nothing runs from $TESTENV_DIR: run \`testenv up\` first"
  # shellcheck source=/dev/null
  . "$PORTS_FILE"
  pid=$(awk -v n="$name" '$1 == n { print $2 }' "$PIDS" | tail -n 1)
  if [ -n "$pid" ] && is_component "$name" "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    wait_exit 20 "$pid" || kill_remaining "$pid"
  fi
  awk -v n="$name" '$1 != n' "$PIDS" >"$PIDS.new" && mv "$PIDS.new" "$PIDS"
  echo "===== restarted at $(date -u +%FT%TZ) =====" >>"$LOGS/$name.log"
  case "$name" in
    etcd) start_etcd ;;
    kube-apiserver) start_apiserver ;;
    kube-controller-manager)
      start_controller_manager
      wait_healthz "$name" "$TESTENV_CONTROLLER_MANAGER_PORT"
      ;;
    kube-scheduler)
      start_scheduler
      wait_healthz "$name" "$TESTENV_SCHEDULER_PORT"
      ;;
    kwok)
      start_kwok
      wait_until kwok 30 node_ready
      ;;
  esac
  echo "testenv: restarted $name, pid $(awk -v n="$name" '$1 == n { print $2 }' "$PIDS")"
}
