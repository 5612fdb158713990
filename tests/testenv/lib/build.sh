# Builds the control plane's binaries from the Go module proxy, cached by version.
# Sourced by tests/testenv/testenv; expects TOOLS, CACHE_BIN and the *_VERSION variables.

build_all() {
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod
  mkdir -p "$CACHE_BIN"
  if have_binaries; then
    echo "testenv: binaries cached in $CACHE_BIN"
    have_stages || copy_kwok_stages
    return 0
  fi
  command -v go >/dev/null || die "go is needed to build the test control plane (Go 1.26 or newer)"
  local start=$SECONDS
  echo "testenv: building what is missing of etcd $ETCD_VERSION, Kubernetes $K8S_VERSION, kwok $KWOK_VERSION and helm $HELM_VERSION into $CACHE_BIN (cold: about 20 minutes on 2 cores)"
  build_k8s
  build_etcd
  build_kwok
  build_helm
  copy_kwok_stages
  echo "testenv: built in $((SECONDS - start))s"
}

have_binaries() {
  local b
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    [ -x "$CACHE_BIN/$b" ] || return 1
  done
  have_helm
}

# helm is not part of the cache key, so its version is checked: a new HELM_VERSION rebuilds only helm.
have_helm() {
  [ -x "$CACHE_BIN/helm" ] && [ "$("$CACHE_BIN/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]
}

have_stages() {
  [ -f "$CACHE_BIN/stages/.complete" ]
}

build_k8s() {
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local ld="" pkg
  # Without these stamps the binaries report v0.0.0 and clients refuse some APIs.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  [ -x "$CACHE_BIN/kube-scheduler" ] && [ -x "$CACHE_BIN/kube-apiserver" ] && [ -x "$CACHE_BIN/kube-controller-manager" ] && return 0
  (cd "$TOOLS/k8s" && go build -trimpath -ldflags "$ld" -o "$CACHE_BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler) || die "building Kubernetes failed"
}

build_etcd() {
  [ -x "$CACHE_BIN/etcd" ] && return 0
  (cd "$TOOLS/etcd" && go build -trimpath -o "$CACHE_BIN/etcd" go.etcd.io/etcd/server/v3) || die "building etcd failed"
}

build_kwok() {
  [ -x "$CACHE_BIN/kwok" ] && return 0
  (cd "$TOOLS/kwok" && go build -trimpath -o "$CACHE_BIN/kwok" sigs.k8s.io/kwok/cmd/kwok) || die "building kwok failed"
}

build_helm() {
  have_helm && return 0
  local client_go major minor ld pkg
  client_go=$(cd "$TOOLS/helm" && go list -m -f '{{.Version}}' k8s.io/client-go) || die "helm's client-go version not found"
  client_go=${client_go#v0.}
  major=1 minor=${client_go%%.*}
  # What helm's own Makefile stamps: its version, and the Kubernetes version it assumes offline.
  ld="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ld="$ld -X $pkg.k8sVersionMajor=$major -X $pkg.k8sVersionMinor=$minor"
  done
  (cd "$TOOLS/helm" && go build -trimpath -ldflags "$ld" -o "$CACHE_BIN/helm.new.$$" helm.sh/helm/v3/cmd/helm) || die "building helm failed"
  mv "$CACHE_BIN/helm.new.$$" "$CACHE_BIN/helm"
}

# Standalone kwok has no built-in stages; take the standard ones from its module source.
# The pod stages are the "fast" ones: the "general" pod-ready needs pod-create and
# init-container stages first and adds up to 5 s of jitter.
copy_kwok_stages() {
  local src
  src=$(cd "$TOOLS/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) || die "kwok module source not found"
  rm -rf "$CACHE_BIN/stages"
  mkdir -p "$CACHE_BIN/stages"
  cp "$src/kustomize/stage/node/fast/node-initialize.yaml" \
    "$src/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
    "$src/kustomize/stage/pod/fast/pod-ready.yaml" \
    "$src/kustomize/stage/pod/fast/pod-complete.yaml" \
    "$src/kustomize/stage/pod/fast/pod-delete.yaml" \
    "$CACHE_BIN/stages/"
  chmod u+w "$CACHE_BIN/stages/"*
  touch "$CACHE_BIN/stages/.complete"
}
