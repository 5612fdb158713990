#!/usr/bin/env bash
# Runs as the first process of the real node's own mount and network namespaces (started by
# lib/node.sh under `unshare --mount --net --propagation private`): makes the private mounts
# and the node's network, then stays as the namespaces' holder until `testenv down`.
# Usage: namespace.sh NODE_DIR NODE_IP
set -euo pipefail
node_dir=$1 node_ip=$2

# Everything the kubelet, containerd and the CNI plugins write outside their configured
# directories lands here, not on the host.
mount -t tmpfs -o mode=755 slipway-run /run
mount -t tmpfs -o mode=755 slipway-var-lib /var/lib
mkdir -p "$node_dir/log"
mount --bind "$node_dir/log" /var/log

# The kubelet sets these kernel-wide sysctls at start; files bound over them keep the host's
# values untouched (the kubelet then finds what it wants and writes nothing real).
mkdir -p "$node_dir/sysctl"
while read -r key value; do
  file=$node_dir/sysctl/${key//\//.}
  echo "$value" >"$file"
  mount --bind "$file" "/proc/sys/$key"
done <<'SYSCTLS'
vm/overcommit_memory 1
vm/panic_on_oom 0
kernel/panic 10
kernel/panic_on_oops 1
kernel/keys/root_maxkeys 1000000
kernel/keys/root_maxbytes 25000000
SYSCTLS

# The node's address sits on a veth whose both ends live in this namespace.
ip link set lo up
ip link add node0 type veth peer name node0-peer
ip addr add "$node_ip/24" dev node0
ip link set node0 up
ip link set node0-peer up
ip route add default dev node0

exec -a node-namespace sleep infinity
