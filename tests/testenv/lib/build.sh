# Builds the control plane's binaries from the Go module proxy, cached by version.
# Sourced by tests/testenv/testenv; expects TOOLS, CACHE_BIN and the *_VERSION variables.

build_all() {
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod
  mkdir -p "$CACHE_BIN"
  install_node_packages
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
  build_tool registry github.com/distribution/distribution/v3/cmd/registry
  build_tool crane github.com/google/go-containerregistry/cmd/crane
  build_buildkit
  build_pause
  copy_kwok_stages
  echo "testenv: built in $((SECONDS - start))s"
}

have_binaries() {
  local b
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kwok registry crane pause; do
    [ -x "$CACHE_BIN/$b" ] || return 1
  done
  have_helm && have_buildkit
}

# BuildKit is not part of the cache key either: a new BUILDKIT_VERSION rebuilds only BuildKit.
have_buildkit() {
  [ -x "$CACHE_BIN/buildctl" ] && "$CACHE_BIN/buildkitd" --version 2>/dev/null | grep -q " $BUILDKIT_VERSION "
}

# buildkitd and buildctl, the builder image's daemon and client, built inside a copy of
# BuildKit's own module so that its go.mod (and its replace lines) apply.
build_buildkit() {
  have_buildkit && return 0
  local src work
  src=$(cd "$TOOLS" && go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || die "downloading BuildKit $BUILDKIT_VERSION failed"
  work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-buildkit.XXXXXX")
  cp -r "$src/." "$work" && chmod -R u+w "$work"
  local ld="-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -tags "osusergo netgo static_build" -ldflags "$ld" \
    -o "$CACHE_BIN/" ./cmd/buildkitd ./cmd/buildctl) || { rm -rf "$work"; die "building BuildKit failed"; }
  rm -rf "$work"
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
  local b missing=0
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    [ -x "$CACHE_BIN/$b" ] || missing=1
  done
  [ $missing = 0 ] && return 0
  (cd "$TOOLS/k8s" && go build -trimpath -ldflags "$ld" -o "$CACHE_BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy) || die "building Kubernetes failed"
}

build_etcd() {
  [ -x "$CACHE_BIN/etcd" ] && return 0
  (cd "$TOOLS/etcd" && go build -trimpath -o "$CACHE_BIN/etcd" go.etcd.io/etcd/server/v3) || die "building etcd failed"
}

# A Go tool of the real node from its own tools module (tools/NAME), built static.
build_tool() {
  local name=$1 pkg=$2
  [ -x "$CACHE_BIN/$name" ] && return 0
  (cd "$TOOLS/$name" && CGO_ENABLED=0 go build -trimpath -o "$CACHE_BIN/$name.new.$$" "$pkg") || die "building $name failed"
  mv "$CACHE_BIN/$name.new.$$" "$CACHE_BIN/$name"
}

# The pod sandbox's pause process, from the Kubernetes source in the module cache.
build_pause() {
  [ -x "$CACHE_BIN/pause" ] && return 0
  local src
  src=$(cd "$TOOLS/k8s" && go list -m -f '{{.Dir}}' k8s.io/kubernetes) || die "the Kubernetes module source was not found"
  command -v gcc >/dev/null || die "gcc is needed to build the pause image's binary"
  gcc -Os -static -DVERSION="$K8S_VERSION" -o "$CACHE_BIN/pause" "$src/build/pause/linux/pause.c" || die "building pause failed"
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
