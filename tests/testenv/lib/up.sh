# Starts, inspects and stops the control plane in $TESTENV_DIR with the binaries in $CACHE_BIN.
# Sourced by tests/testenv/testenv; expects HERE, ROOT, CACHE_BIN and TESTENV_DIR.

SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
POD_CIDR=10.244.0.0/16
NODE_NAME=kwok-node-0
PKI=$TESTENV_DIR/pki
LOGS=$TESTENV_DIR/logs
PIDS=$TESTENV_DIR/pids
KUBECONFIG_FILE=$TESTENV_DIR/kubeconfig
PORTS_FILE=$TESTENV_DIR/ports.env
COMPONENT_CLIENT_FLAGS=(
  --kubeconfig="$KUBECONFIG_FILE"
  --authentication-kubeconfig="$KUBECONFIG_FILE"
  --authorization-kubeconfig="$KUBECONFIG_FILE"
  --bind-address=127.0.0.1
  --tls-cert-file="$PKI/leaf.crt"
  --tls-private-key-file="$PKI/leaf.key"
)

up() {
  local start=$SECONDS
  need_tools
  real_node_enabled && node_preflight
  down
  fresh_dir
  trap up_failed EXIT
  # Ports are chosen and bound under one machine-wide lock, so control planes started at
  # the same instant never pick the same port.
  lock_ports
  pick_ports
  make_certs
  make_kubeconfig
  start_etcd
  start_apiserver
  install_crds
  start_controller_manager
  start_scheduler
  start_kwok
  real_node_enabled && start_real_node
  wait_healthz kube-controller-manager "$TESTENV_CONTROLLER_MANAGER_PORT"
  wait_healthz kube-scheduler "$TESTENV_SCHEDULER_PORT"
  unlock_ports
  create_node
  smoke_check
  real_node_enabled && wait_real_node
  trap - EXIT
  echo "testenv: up in $((SECONDS - start))s, kube-apiserver on https://127.0.0.1:$TESTENV_APISERVER_PORT"
  real_node_enabled && echo "testenv: real node $REAL_NODE_NAME; its registry is $REGISTRY in the cluster, 127.0.0.1:$TESTENV_REGISTRY_PORT from here"
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
}

up_failed() {
  local rc=$?
  [ "$rc" -eq 0 ] && return 0
  echo "testenv: up failed; component logs follow" >&2
  print_logs >&2
  down >&2
  exit "$rc"
}

# Stops only the processes recorded in $PIDS, newest first (the real node's pods before them,
# what is left of the node after them).
down() {
  [ -s "$PIDS" ] || return 0
  stop_real_node_pods
  local name pid stopping=()
  while read -r name pid; do
    if is_component "$name" "$pid"; then
      kill -TERM "$pid" 2>/dev/null && stopping+=("$pid")
    fi
  done < <(tac "$PIDS")
  wait_exit 10 "${stopping[@]}" || kill_remaining "${stopping[@]}"
  clean_real_node
  rm -f "$PIDS" "$RESERVATION"
  echo "testenv: stopped the control plane in $TESTENV_DIR"
}

status() {
  if [ ! -s "$PIDS" ]; then
    echo "testenv: nothing running from $TESTENV_DIR"
    return 1
  fi
  local name pid rc=0
  while read -r name pid; do
    if is_component "$name" "$pid"; then
      printf '%-24s pid %-8s running\n' "$name" "$pid"
    else
      printf '%-24s pid %-8s stopped\n' "$name" "$pid"
      rc=1
    fi
  done <"$PIDS"
  # shellcheck source=/dev/null
  [ -f "$PORTS_FILE" ] && . "$PORTS_FILE" && echo "kube-apiserver: https://127.0.0.1:$TESTENV_APISERVER_PORT"
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
  return "$rc"
}

print_logs() {
  local log
  for log in "$LOGS"/*.log; do
    [ -e "$log" ] || continue
    echo "===== $log (last 80 lines) ====="
    tail -n 80 "$log"
  done
}

need_tools() {
  local tool
  for tool in openssl kubectl curl setsid tac flock; do
    command -v "$tool" >/dev/null || die "$tool is needed to start the test control plane"
  done
}

# Wipes the working dir, refusing anything that is not clearly a testenv dir.
fresh_dir() {
  case "$TESTENV_DIR" in
    / | "$HOME" | "$ROOT") die "refusing to wipe TESTENV_DIR=$TESTENV_DIR" ;;
  esac
  if [ -d "$TESTENV_DIR" ] && [ -n "$(ls -A "$TESTENV_DIR")" ] && [ ! -f "$TESTENV_DIR/.testenv" ]; then
    die "$TESTENV_DIR is not empty and was not made by testenv; refusing to wipe it"
  fi
  rm -rf "$TESTENV_DIR"
  mkdir -p "$TESTENV_DIR" "$LOGS" "$PKI"
  touch "$TESTENV_DIR/.testenv"
}

# Every running testenv lists its ports here, so a port another one holds is never chosen,
# not even while that one restarts the component bound to it.
RESERVATIONS=${TESTENV_CACHE:-$HOME/.cache/slipway-testenv}/ports
RESERVATION=$RESERVATIONS/$(echo "$TESTENV_DIR" | sha256sum | cut -c1-16)

lock_ports() {
  local lock=$RESERVATIONS.lock
  mkdir -p "$RESERVATIONS"
  exec 9>"$lock"
  flock --timeout 300 9 || die "waited 5 minutes for another testenv to finish choosing its ports ($lock)"
}

unlock_ports() {
  flock --unlock 9
  exec 9>&-
}

# Ports come from the environment when set, else the first free one from a default that no
# other running testenv holds.
pick_ports() {
  reserved_ports
  TAKEN_PORTS=" $RESERVED_PORTS "
  assign_port TESTENV_ETCD_PORT 12379
  assign_port TESTENV_ETCD_PEER_PORT 12380
  assign_port TESTENV_APISERVER_PORT 16443
  assign_port TESTENV_CONTROLLER_MANAGER_PORT 20257
  assign_port TESTENV_SCHEDULER_PORT 20259
  assign_port TESTENV_KUBELET_PORT 20250
  assign_port TESTENV_REGISTRY_PORT 15000
  local var
  for var in TESTENV_ETCD_PORT TESTENV_ETCD_PEER_PORT TESTENV_APISERVER_PORT \
    TESTENV_CONTROLLER_MANAGER_PORT TESTENV_SCHEDULER_PORT TESTENV_KUBELET_PORT TESTENV_REGISTRY_PORT; do
    echo "$var=${!var}"
  done >"$PORTS_FILE"
  { echo "$TESTENV_DIR"; echo "$TAKEN_PORTS"; } >"$RESERVATION"
}

# The ports of the testenvs whose processes still run.
reserved_ports() {
  local file dir
  RESERVED_PORTS=""
  for file in "$RESERVATIONS"/*; do
    [ -f "$file" ] && [ "$file" != "$RESERVATION" ] || continue
    dir=$(head -n 1 "$file")
    if [ -s "$dir/pids" ]; then
      RESERVED_PORTS+=" $(tail -n 1 "$file")"
    else
      rm -f "$file"
    fi
  done
}

assign_port() {
  local var=$1 port=$2
  if [ -n "${!var:-}" ]; then
    port=${!var}
  else
    while port_in_use "$port" || [[ $TAKEN_PORTS == *" $port "* ]]; do
      port=$((port + 1))
    done
  fi
  TAKEN_PORTS+="$port "
  printf -v "$var" %s "$port"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# One leaf certificate serves the apiserver, authenticates every client as
# system:masters and signs service account tokens.
make_certs() {
  cat >"$PKI/openssl.cnf" <<EOF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:127.0.0.1, IP:$SERVICE_IP
EOF
  (
    cd "$PKI"
    openssl req -x509 -new -noenc -newkey rsa:2048 -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=slipway-testenv-ca" -config openssl.cnf -extensions ca
    openssl genrsa -traditional -out leaf.key 2048
    openssl req -new -key leaf.key -subj "/O=system:masters/CN=slipway-testenv-admin" \
      -config openssl.cnf -out leaf.csr
    openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile openssl.cnf -extensions leaf -out leaf.crt
  ) >"$PKI/openssl.log" 2>&1 || die "making certificates failed: $(cat "$PKI/openssl.log")"
}

make_kubeconfig() {
  kctl config set-cluster testenv --server="https://127.0.0.1:$TESTENV_APISERVER_PORT" \
    --certificate-authority="$PKI/ca.crt" --embed-certs=true >/dev/null
  kctl config set-credentials testenv-admin --client-certificate="$PKI/leaf.crt" \
    --client-key="$PKI/leaf.key" --embed-certs=true >/dev/null
  kctl config set-context testenv --cluster=testenv --user=testenv-admin >/dev/null
  kctl config use-context testenv >/dev/null
}

kctl() {
  kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"
}

# setsid keeps the components out of the caller's process group, so the cluster
# outlives the shell that ran `up`; it execs, so $! is the component's own PID.
# The log is appended to, so that a restart (lib/restart.sh) keeps what came before.
# It returns once the process runs under its own name (after setsid, nsenter or a namespace
# set-up script), so that a check of it never sees a launcher; fd 9 (the ports lock) is not
# passed on.
start_component() {
  local name=$1 pid
  shift
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
  pid=$!
  echo "$name $pid" >>"$PIDS"
  local deadline=$((SECONDS + 20))
  until is_component "$name" "$pid"; do
    pid_alive "$pid" || die "$name exited while starting (see $LOGS/$name.log)"
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not start within 20s (see $LOGS/$name.log)"
    sleep 0.05
  done
}

start_etcd() {
  local peer="http://127.0.0.1:$TESTENV_ETCD_PEER_PORT"
  start_component etcd "$CACHE_BIN/etcd" \
    --name=testenv \
    --data-dir="$TESTENV_DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$TESTENV_ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$TESTENV_ETCD_PORT" \
    --listen-peer-urls="$peer" \
    --initial-advertise-peer-urls="$peer" \
    --initial-cluster="testenv=$peer" \
    --unsafe-no-fsync=true
  wait_until etcd 30 etcd_healthy
}

etcd_healthy() {
  curl -fsS "http://127.0.0.1:$TESTENV_ETCD_PORT/health" | grep -q '"health":"true"'
}

# With the real node, in a mount namespace of its own whose /etc/hosts maps the node's name to
# 127.0.0.1: it reaches the kubelet through the node's relay, as real clusters reach it by name.
start_apiserver() {
  write_apiserver_files
  local launcher=()
  if real_node_enabled; then
    launcher=(unshare --mount --propagation private --
      sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$TESTENV_DIR/apiserver/hosts")
  fi
  start_component kube-apiserver "${launcher[@]}" "$CACHE_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$TESTENV_ETCD_PORT" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --secure-port="$TESTENV_APISERVER_PORT" \
    --tls-cert-file="$PKI/leaf.crt" \
    --tls-private-key-file="$PKI/leaf.key" \
    --client-ca-file="$PKI/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/leaf.key" \
    --service-account-signing-key-file="$PKI/leaf.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=OwnerReferencesPermissionEnforcement,NodeRestriction,PodNodeSelector \
    --admission-control-config-file="$TESTENV_DIR/apiserver/admission.yaml" \
    --kubelet-client-certificate="$PKI/leaf.crt" \
    --kubelet-client-key="$PKI/leaf.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" \
    --kubelet-preferred-address-types=Hostname,InternalIP \
    --allow-privileged=true \
    --profiling=false
  wait_until kube-apiserver 60 apiserver_ready
}

# Pods go to kwok's node unless their namespace names the real one
# (scheduler.alpha.kubernetes.io/node-selector: testenv.slipway.dev/node=real).
write_apiserver_files() {
  local dir=$TESTENV_DIR/apiserver
  mkdir -p "$dir"
  { cat /etc/hosts; echo "127.0.0.1 $REAL_NODE_NAME"; } >"$dir/hosts"
  cat >"$dir/admission.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodNodeSelector
  path: $dir/podnodeselector.yaml
EOF
  cat >"$dir/podnodeselector.yaml" <<EOF
podNodeSelectorPluginConfig:
  clusterDefaultNodeSelector: "$KWOK_NODE_SELECTOR"
EOF
}

apiserver_ready() {
  curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/leaf.crt" --key "$PKI/leaf.key" \
    "https://127.0.0.1:$TESTENV_APISERVER_PORT/readyz" | grep -qx ok
}

# Before the controller manager starts, so its garbage collector knows the types at once.
install_crds() {
  local files=() f
  for f in "$ROOT"/charts/slipway/crds/*.yaml; do
    [ -e "$f" ] && files+=(-f "$f")
  done
  [ "${#files[@]}" -gt 0 ] || return 0
  kctl apply --server-side "${files[@]}" >/dev/null
  kctl wait --for=condition=Established --timeout=60s crd --all >/dev/null
}

start_controller_manager() {
  start_component kube-controller-manager "$CACHE_BIN/kube-controller-manager" \
    "${COMPONENT_CLIENT_FLAGS[@]}" \
    --secure-port="$TESTENV_CONTROLLER_MANAGER_PORT" \
    --leader-elect=false \
    --root-ca-file="$PKI/ca.crt" \
    --service-account-private-key-file="$PKI/leaf.key" \
    --cluster-signing-cert-file="$PKI/ca.crt" \
    --cluster-signing-key-file="$PKI/ca.key" \
    --kube-api-qps=200 \
    --kube-api-burst=400 \
    --concurrent-deployment-syncs=10 \
    --concurrent-replicaset-syncs=10 \
    --profiling=false
}

start_scheduler() {
  start_component kube-scheduler "$CACHE_BIN/kube-scheduler" \
    "${COMPONENT_CLIENT_FLAGS[@]}" \
    --secure-port="$TESTENV_SCHEDULER_PORT" \
    --leader-elect=false \
    --kube-api-qps=200 \
    --kube-api-burst=400 \
    --profiling=false
}

start_kwok() {
  write_kwok_stages
  start_component kwok env KWOK_WORKDIR="$TESTENV_DIR/kwok" "$CACHE_BIN/kwok" \
    --kubeconfig="$KUBECONFIG_FILE" \
    --config="$TESTENV_DIR/kwok/stages.yaml" \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 \
    --cidr="$POD_CIDR"
}

# The standard stages plus the project's own; the standard pod-ready stage must
# leave alone the pods that the project's stages keep unready, crash-looping or make ready late.
write_kwok_stages() {
  local dir=$TESTENV_DIR/kwok f
  mkdir -p "$dir"
  cat >"$dir/exclude-annotated.yaml" <<'EOF'
    - key: '.metadata.annotations["testenv.slipway.dev/never-ready"]'
      operator: 'NotIn'
      values:
      - 'true'
    - key: '.metadata.annotations["testenv.slipway.dev/crashloop"]'
      operator: 'NotIn'
      values:
      - 'true'
    - key: '.metadata.annotations["testenv.slipway.dev/ready-after"]'
      operator: 'DoesNotExist'
EOF
  sed "/^    matchExpressions:\$/r $dir/exclude-annotated.yaml" "$CACHE_BIN/stages/pod-ready.yaml" >"$dir/pod-ready.yaml"
  grep -q 'testenv.slipway.dev/never-ready' "$dir/pod-ready.yaml" ||
    die "could not exclude annotated pods from kwok's pod-ready stage ($CACHE_BIN/stages/pod-ready.yaml)"
  for f in "$CACHE_BIN"/stages/*.yaml "$HERE"/stages/*.yaml; do
    [ "$f" = "$CACHE_BIN/stages/pod-ready.yaml" ] && f=$dir/pod-ready.yaml
    echo "---"
    cat "$f"
  done >"$dir/stages.yaml"
}

wait_healthz() {
  local name=$1 port=$2
  wait_until "$name" 60 curl -fsS --cacert "$PKI/ca.crt" "https://127.0.0.1:$port/healthz"
}

create_node() {
  kctl create -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    type: kwok
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "1000"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "1000"
EOF
  wait_until kwok 30 node_ready
}

node_ready() {
  [ "$(kctl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# A Deployment rolls out, rolls again after `set image`, and its pods go away on delete.
smoke_check() {
  wait_until kube-controller-manager 30 kctl -n default get serviceaccount default
  kctl -n default create deployment testenv-smoke --image=registry.invalid/smoke:1 --replicas=2 >/dev/null
  kctl -n default rollout status deployment/testenv-smoke --timeout=60s >/dev/null
  kctl -n default set image deployment/testenv-smoke smoke=registry.invalid/smoke:2 >/dev/null
  kctl -n default rollout status deployment/testenv-smoke --timeout=60s >/dev/null
  kctl -n default delete deployment testenv-smoke >/dev/null
  wait_until kube-controller-manager 60 no_smoke_pods
}

no_smoke_pods() {
  [ -z "$(kctl -n default get pods -l app=testenv-smoke -o name)" ]
}

# Polls a command until it succeeds; fails early if the component it waits for died.
wait_until() {
  local name=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    component_running "$name" || die "$name exited while starting (see $LOGS/$name.log)"
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for $name: $*"
    sleep 0.2
  done
}

component_running() {
  local pid
  pid=$(awk -v n="$1" '$1 == n { print $2 }' "$PIDS")
  [ -n "$pid" ] && is_component "$1" "$pid"
}

# True if the PID is alive (not a zombie) and still runs that component's binary,
# so a recycled PID is never signalled.
is_component() {
  local name=$1 pid=$2 argv0
  pid_alive "$pid" || return 1
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1) || return 1
  [ "$(basename -- "$argv0")" = "$name" ]
}

pid_alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

wait_exit() {
  local timeout=$1 pid
  shift
  local deadline=$((SECONDS + timeout))
  for pid in "$@"; do
    while pid_alive "$pid"; do
      [ "$SECONDS" -lt "$deadline" ] || return 1
      sleep 0.1
    done
  done
}

kill_remaining() {
  local pid
  for pid in "$@"; do
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  wait_exit 5 "$@" || true
}
