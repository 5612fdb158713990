# The real node: containerd, runc, the CNI bridge, a kubelet, kube-proxy and an OCI registry,
# all inside a mount and network namespace of their own, so the host's sysctls, mounts, links,
# routes and iptables rules stay as they were. Relays over Unix sockets (socat) join the two
# sides: the kubelet and pods reach the API server, the API server reaches the kubelet (logs,
# exec, port-forward), the host pushes images to the registry.
# Sourced by tests/testenv/testenv after lib/up.sh; expects its variables and functions.

REAL_NODE_NAME=slipway-node-0
NODE_DIR=$TESTENV_DIR/node
# Inside the node's namespace only: every node can use the same addresses.
NODE_IP=10.77.0.2
NODE_POD_CIDR=10.88.0.0/16
NODE_CLUSTER_DNS=10.96.0.10
# The name under which pods, the node's containerd and builders reach the registry.
REGISTRY=$NODE_IP:5000
# Namespaces annotated with this run their pods on the real node; the others on kwok's.
REAL_NODE_SELECTOR=testenv.slipway.dev/node=real
KWOK_NODE_SELECTOR=type=kwok
NODE_PACKAGES="containerd runc containernetworking-plugins iptables conntrack socat busybox-static iproute2 util-linux"

real_node_enabled() {
  [ "${TESTENV_REAL_NODE:-1}" != 0 ]
}

# What the real node needs of the machine, said in one message.
node_preflight() {
  local missing=() tool
  [ "$(id -u)" = 0 ] || missing+=("root (the node makes mount and network namespaces and cgroups)")
  for tool in unshare nsenter ip socat containerd containerd-shim-runc-v2 runc iptables ctr; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || missing+=("the CNI plugins in /usr/lib/cni")
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=("a static /bin/busybox (busybox-static)")
  grep -qw overlay /proc/filesystems || missing+=("overlayfs in the kernel")
  [ -d /sys/fs/cgroup/pids ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || missing+=("cgroups under /sys/fs/cgroup")
  if [ "${#missing[@]}" -gt 0 ]; then
    die "the real node cannot start; missing: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g'). Debian packages: $NODE_PACKAGES (\`testenv build\` installs them as root); TESTENV_REAL_NODE=0 starts the control plane with kwok's node only"
  fi
}

# Debian packages by name; only what is missing, only as root.
install_node_packages() {
  local tool missing=0
  for tool in unshare nsenter ip socat containerd runc iptables conntrack; do
    command -v "$tool" >/dev/null || missing=1
  done
  [ -x /usr/lib/cni/bridge ] && [ -x /bin/busybox ] || missing=1
  [ $missing = 0 ] && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || {
    echo "testenv: the real node needs the Debian packages $NODE_PACKAGES; install them as root" >&2
    return 0
  }
  echo "testenv: installing $NODE_PACKAGES"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $NODE_PACKAGES >/dev/null ||
    die "installing $NODE_PACKAGES failed"
}

start_real_node() {
  node_preflight
  mkdir -p "$NODE_DIR"
  make_node_certs
  node_cgroups
  write_node_configs
  start_component node-namespace unshare --mount --net --propagation private -- \
    bash "$HERE/node/namespace.sh" "$NODE_DIR" "$NODE_IP"
  find_real_node
  readlink "/proc/$NODE_HOLDER/ns/mnt" >"$NODE_DIR/mntns"
  readlink "/proc/$NODE_HOLDER/ns/net" >"$NODE_DIR/netns"
  start_relays
  # The registry exports traces unless told not to.
  start_in_node registry env OTEL_TRACES_EXPORTER=none "$CACHE_BIN/registry" serve "$NODE_DIR/registry.yml"
  wait_until relay-registry-host 30 curl -fsS "http://127.0.0.1:$TESTENV_REGISTRY_PORT/v2/"
  push_base_images
  start_containerd
  kubernetes_service_endpoint
  start_kubelet
  start_kube_proxy
}

start_containerd() {
  start_in_node containerd containerd --config "$NODE_DIR/containerd.toml"
  wait_until containerd 30 in_node ctr --address /run/containerd/containerd.sock version
}

start_kubelet() {
  start_in_node kubelet "$CACHE_BIN/kubelet" \
    --config="$NODE_DIR/kubelet.yaml" \
    --kubeconfig="$NODE_DIR/kubelet.kubeconfig" \
    --hostname-override="$REAL_NODE_NAME" \
    --node-ip="$NODE_IP" \
    --node-labels="$REAL_NODE_SELECTOR" \
    --root-dir="$NODE_DIR/kubelet" \
    --cert-dir="$NODE_DIR/kubelet/pki"
}

start_kube_proxy() {
  start_in_node kube-proxy "$CACHE_BIN/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml"
}

# For restarts: the holder of the running node's namespaces.
find_real_node() {
  NODE_HOLDER=$(awk '$1 == "node-namespace" { print $2 }' "$PIDS")
  [ -n "$NODE_HOLDER" ] && is_component node-namespace "$NODE_HOLDER" || die "no real node runs in $TESTENV_DIR"
}

# After the control plane is up: the node registered and Ready, and a real pod serves HTTP.
wait_real_node() {
  wait_until kubelet 60 real_node_ready
  smoke_real_pod
}

real_node_ready() {
  [ "$(kctl get node "$REAL_NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

in_node() {
  nsenter --target "$NODE_HOLDER" --mount --net -- "$@"
}

# Like start_component, inside the node's namespaces.
start_in_node() {
  local name=$1
  shift
  start_component "$name" nsenter --target "$NODE_HOLDER" --mount --net -- "$@"
}

# A relay is a socat whose process is named after what it joins.
start_relay() {
  local name=$1
  shift
  start_component "$name" bash -c 'exec -a "$0" socat "$@"' "$name" "$@"
}

start_relay_in_node() {
  local name=$1
  shift
  start_in_node "$name" bash -c 'exec -a "$0" socat "$@"' "$name" "$@"
}

start_relays() {
  local s=$NODE_DIR/sockets
  mkdir -p "$s"
  # The kubelet and kube-proxy dial 127.0.0.1, pods the `kubernetes` Service (the node's address).
  start_relay relay-apiserver-host "UNIX-LISTEN:$s/apiserver.sock,fork,unlink-early" "TCP:127.0.0.1:$TESTENV_APISERVER_PORT"
  start_relay_in_node relay-apiserver-node "TCP-LISTEN:$TESTENV_APISERVER_PORT,fork,reuseaddr" "UNIX-CONNECT:$s/apiserver.sock"
  # The API server dials the node by name, which its own /etc/hosts maps to 127.0.0.1.
  start_relay_in_node relay-kubelet-node "UNIX-LISTEN:$s/kubelet.sock,fork,unlink-early" "TCP:127.0.0.1:$TESTENV_KUBELET_PORT"
  start_relay relay-kubelet-host "TCP-LISTEN:$TESTENV_KUBELET_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$s/kubelet.sock"
  start_relay_in_node relay-registry-node "UNIX-LISTEN:$s/registry.sock,fork,unlink-early" "TCP:127.0.0.1:5000"
  start_relay relay-registry-host "TCP-LISTEN:$TESTENV_REGISTRY_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$s/registry.sock"
}

# The API server runs with --endpoint-reconciler-type=none: the `kubernetes` Service's
# endpoint is the node's relay to it.
kubernetes_service_endpoint() {
  kctl apply --server-side --field-manager=testenv -f - >/dev/null <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: testenv.slipway.dev
addressType: IPv4
endpoints:
- addresses: ["$NODE_IP"]
  conditions: {ready: true}
ports:
- name: https
  port: $TESTENV_APISERVER_PORT
  protocol: TCP
EOF
}

# The kubelet's pods live under a cgroup root of this testenv's own, so several nodes can
# run at once and `down` removes exactly what this one made.
node_cgroups() {
  local root dir
  root=slipway-testenv-$(echo "$TESTENV_DIR" | sha256sum | cut -c1-12)
  echo "$root" >"$NODE_DIR/cgroup-root"
  for dir in /sys/fs/cgroup/*/; do
    [ -w "$dir" ] && mkdir -p "$dir$root"
  done
  NODE_CGROUP_ROOT=/$root
}

# Stops the node's pods before containerd (their processes are found in the node's cgroups,
# the shims in its mount namespace), then lets `down` stop the recorded processes.
stop_real_node_pods() {
  [ -f "$NODE_DIR/cgroup-root" ] || return 0
  local name pid
  while read -r name pid; do
    case "$name" in
      kubelet | kube-proxy) if is_component "$name" "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi ;;
    esac
  done <"$PIDS"
  local deadline=$((SECONDS + 10))
  while [ -n "$(node_cgroup_pids)" ] && [ "$SECONDS" -lt "$deadline" ]; do
    node_cgroup_pids | xargs -r kill -KILL 2>/dev/null || true
    sleep 0.2
  done
}

node_cgroup_pids() {
  local root
  root=$(cat "$NODE_DIR/cgroup-root")
  find /sys/fs/cgroup/*/"$root" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

# After the recorded processes: whatever is left in both of the node's namespaces (containerd's
# shims; a namespace's number alone could be reused once it is gone), then the node's cgroups,
# deepest first.
clean_real_node() {
  [ -f "$NODE_DIR/mntns" ] || return 0
  local left
  left=$(node_namespace_pids "$(cat "$NODE_DIR/mntns")" "$(cat "$NODE_DIR/netns" 2>/dev/null)")
  if [ -n "$left" ]; then
    kill -KILL $left 2>/dev/null || true
    wait_exit 5 $left || true
  fi
  if [ -f "$NODE_DIR/cgroup-root" ]; then
    local root
    root=$(cat "$NODE_DIR/cgroup-root")
    find /sys/fs/cgroup/*/"$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
    rm -f "$NODE_DIR/cgroup-root"
  fi
  rm -f "$NODE_DIR/mntns" "$NODE_DIR/netns"
}

node_namespace_pids() {
  local mnt=$1 net=$2 dir
  for dir in /proc/[0-9]*; do
    if [ "$(readlink "$dir/ns/mnt" 2>/dev/null)" = "$mnt" ] && [ "$(readlink "$dir/ns/net" 2>/dev/null)" = "$net" ]; then
      echo "${dir#/proc/}"
    fi
  done
}

# The kubelet's client certificate (Node authorizer and NodeRestriction), its serving
# certificate (checked by the API server) and kube-proxy's client certificate.
make_node_certs() {
  local pki=$NODE_DIR/pki
  mkdir -p "$pki"
  cat >"$pki/openssl.cnf" <<EOF
[req]
distinguished_name = dn
[dn]
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$REAL_NODE_NAME, IP:$NODE_IP, IP:127.0.0.1
EOF
  (
    cd "$pki"
    node_cert kubelet-client "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" client
    node_cert kubelet-serving "/CN=$REAL_NODE_NAME" serving
    node_cert kube-proxy "/CN=system:kube-proxy" client
  ) >"$pki/openssl.log" 2>&1 || die "making the node's certificates failed: $(cat "$pki/openssl.log")"
}

node_cert() {
  local name=$1 subject=$2 ext=$3
  openssl genrsa -traditional -out "$name.key" 2048
  openssl req -new -key "$name.key" -subj "$subject" -config openssl.cnf -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -extfile openssl.cnf -extensions "$ext" -out "$name.crt"
}

node_kubeconfig() {
  local file=$1 cert=$2
  kubectl config --kubeconfig="$file" set-cluster testenv --server="https://127.0.0.1:$TESTENV_APISERVER_PORT" \
    --certificate-authority="$PKI/ca.crt" --embed-certs=true >/dev/null
  kubectl config --kubeconfig="$file" set-credentials node --client-certificate="$cert.crt" \
    --client-key="$cert.key" --embed-certs=true >/dev/null
  kubectl config --kubeconfig="$file" set-context testenv --cluster=testenv --user=node >/dev/null
  kubectl config --kubeconfig="$file" use-context testenv >/dev/null
}

write_node_configs() {
  local pki=$NODE_DIR/pki
  mkdir -p "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam" "$NODE_DIR/containerd/certs.d/$REGISTRY" "$NODE_DIR/registry-data"
  node_kubeconfig "$NODE_DIR/kubelet.kubeconfig" "$pki/kubelet-client"
  node_kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" "$pki/kube-proxy"
  # Pods resolve nothing (there is no cluster DNS); the address only keeps the kubelet from
  # warning on every pod.
  echo "nameserver $NODE_CLUSTER_DNS" >"$NODE_DIR/resolv.conf"
  cat >"$NODE_DIR/cni/net.d/10-slipway.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "slipway",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$NODE_DIR/cni/ipam",
               "ranges": [[{"subnet": "$NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$NODE_DIR/containerd/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
  # No CAP_SYS_RESOURCE here: containerd and runc must not lower OOM scores.
  cat >"$NODE_DIR/containerd.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd/root"
state = "/run/containerd"
oom_score = 0
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REGISTRY/slipway/pause:3.10"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$NODE_DIR/containerd/certs.d"
EOF
  cat >"$NODE_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $NODE_DIR/registry-data
  delete:
    enabled: true
http:
  addr: 0.0.0.0:5000
EOF
  write_kubelet_config
  cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $NODE_DIR/kube-proxy.kubeconfig
hostnameOverride: $REAL_NODE_NAME
mode: iptables
clusterCIDR: $NODE_POD_CIDR
oomScoreAdj: 0
# Conntrack limits are kernel-wide: leave the host's alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
EOF
}

write_kubelet_config() {
  local pki=$NODE_DIR/pki
  cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
# This machine has the cgroup v1 hierarchies (cgroup2 only at unified/).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $NODE_CGROUP_ROOT
port: $TESTENV_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: Webhook
clusterDNS: [$NODE_CLUSTER_DNS]
clusterDomain: cluster.local
resolvConf: $NODE_DIR/resolv.conf
# No CAP_SYS_RESOURCE: no negative OOM scores, no file limit above the hard one.
oomScoreAdj: 0
maxOpenFiles: 20000
failSwapOn: false
serializeImagePulls: false
# Every image comes from the local registry without credentials.
imagePullCredentialsVerificationPolicy: NeverVerify
# A crash loop restarts every 5 s at most (10 s doubling to 5 min by default), so tests of
# crash detection take seconds; the operator's rule holds for the default too.
crashLoopBackOff:
  maxContainerRestartPeriod: 5s
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
EOF
}

# A real pod of the test app: pulled from the registry, Ready through its HTTP probe, its log
# read through the API server's relay to the kubelet, stopped by its TERM trap.
smoke_real_pod() {
  kctl apply --server-side --field-manager=testenv -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: testenv-real
  annotations:
    scheduler.alpha.kubernetes.io/node-selector: $REAL_NODE_SELECTOR
EOF
  wait_until kube-controller-manager 30 kctl -n testenv-real get serviceaccount default
  kctl -n testenv-real apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: smoke
spec:
  containers:
  - name: app
    image: $(image_ref testapp)
    readinessProbe:
      httpGet: {path: /, port: 8080}
      periodSeconds: 1
EOF
  wait_until kubelet 60 kctl -n testenv-real wait pod/smoke --for=condition=Ready --timeout=1s
  kctl -n testenv-real logs smoke | grep -q "answering on port 8080" ||
    die "the real node's smoke pod is Ready but its log could not be read: $(kctl -n testenv-real logs smoke 2>&1 | tail -n 3)"
  kctl -n testenv-real delete pod smoke --wait=true --timeout=30s >/dev/null
}

# `testenv expose NAMESPACE/SERVICE [PORT]`: the Service reachable from the host at
# 127.0.0.1:PORT (the first free one from 18080 by default) through the node's kube-proxy, so
# it follows rollouts; `down` stops it.
expose() {
  local target=${1:-} port=${2:-} address
  [[ $target == */* ]] || die "usage: testenv expose NAMESPACE/SERVICE [PORT]"
  [ -s "$PIDS" ] && [ -f "$PORTS_FILE" ] || die "nothing runs from $TESTENV_DIR: run \`testenv up\` first"
  # shellcheck source=/dev/null
  . "$PORTS_FILE"
  find_real_node
  address=$(kctl -n "${target%/*}" get service "${target#*/}" -o 'jsonpath={.spec.clusterIP}:{.spec.ports[0].port}') ||
    die "no Service $target"
  lock_ports
  if [ -z "$port" ]; then
    TAKEN_PORTS=" "
    assign_port EXPOSE_PORT 18080
    port=$EXPOSE_PORT
  fi
  port_in_use "$port" && die "port $port is taken on 127.0.0.1"
  start_relay_in_node relay-expose-node "UNIX-LISTEN:$NODE_DIR/sockets/$port.sock,fork,unlink-early" "TCP:$address"
  start_relay relay-expose-host "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$NODE_DIR/sockets/$port.sock"
  unlock_ports
  echo "http://127.0.0.1:$port"
}
