# Stops and starts components of the running cluster, for fault tests: `stop` ends the process
# recorded for a component, `start` runs it again with the flags and ports `up` gave it and
# records the new PID, `restart` does both. etcd keeps its data dir ($TESTENV_DIR/etcd) and
# the node its containers (containerd's shims outlive containerd and the kubelet).
# Sourced by tests/testenv/testenv after lib/up.sh and lib/node.sh, whose functions it reuses.

COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kwok containerd kubelet kube-proxy"

restart() {
  stop_one "${1:-}"
  start_one "$1"
}

stop_one() {
  local name=${1:-} pid
  running_cluster "$name"
  pid=$(awk -v n="$name" '$1 == n { print $2 }' "$PIDS" | tail -n 1)
  if [ -n "$pid" ] && is_component "$name" "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    wait_exit 20 "$pid" || kill_remaining "$pid"
  fi
  awk -v n="$name" '$1 != n' "$PIDS" >"$PIDS.new" && mv "$PIDS.new" "$PIDS"
  echo "===== stopped at $(date -u +%FT%TZ) =====" >>"$LOGS/$name.log"
  echo "testenv: stopped $name"
}

start_one() {
  local name=${1:-}
  running_cluster "$name"
  component_running "$name" && die "$name runs already"
  echo "===== started at $(date -u +%FT%TZ) =====" >>"$LOGS/$name.log"
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
    containerd) find_real_node && start_containerd ;;
    kubelet) find_real_node && start_kubelet && wait_until kubelet 60 real_node_ready ;;
    kube-proxy) find_real_node && start_kube_proxy ;;
  esac
  echo "testenv: started $name, pid $(awk -v n="$name" '$1 == n { print $2 }' "$PIDS")"
}

running_cluster() {
  [[ " $COMPONENTS " == *" $1 "* ]] || die "usage: testenv restart|stop|start ${COMPONENTS// / | }"
  [ -s "$PIDS" ] && [ -f "$PORTS_FILE" ] || die "nothing runs from $TESTENV_DIR: run \`testenv up\` first"
  # shellcheck source=/dev/null
  . "$PORTS_FILE"
}
