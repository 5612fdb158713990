# Images built without a container engine: a root filesystem packed as one tar layer on an
# empty base (or on another image), its config set with crane, pushed by digest.
# Sourced by tests/testenv/testenv after lib/node.sh; expects its variables.

IMAGES_DIR=$NODE_DIR/images

# The in-cluster reference (by digest) of an image pushed to the node's registry.
image_ref() {
  [ -s "$IMAGES_DIR/$1" ] || die "no image $1 in the node's registry: run \`testenv image $1\` after \`testenv up\`"
  cat "$IMAGES_DIR/$1"
}

crane() {
  "$CACHE_BIN/crane" --insecure "$@"
}

# Packs DIR as one layer on BASE (an image reference, or "" for an empty base), sets the
# config with crane mutate flags, pushes it as TARGET and prints TARGET's digest reference.
build_image() {
  local dir=$1 base=$2 target=$3 layer
  shift 3
  layer=$(mktemp "${TMPDIR:-/tmp}/slipway-layer.XXXXXX.tar")
  tar --create --file "$layer" --directory "$dir" --sort=name --mtime=@0 --numeric-owner .
  if [ -n "$base" ]; then
    crane append -b "$base" -f "$layer" -t "$target" >/dev/null
  else
    crane append --oci-empty-base -f "$layer" -t "$target" >/dev/null
  fi
  rm -f "$layer"
  crane mutate "$target" --set-platform linux/amd64 "$@" -t "$target"
}

# Pushes to the node's registry under slipway/NAME:TAG and records the digest reference.
push_to_node() {
  local name=$1 dir=$2 base=$3 tag=$4 ref
  shift 4
  ref=$(build_image "$dir" "$base" "127.0.0.1:$TESTENV_REGISTRY_PORT/slipway/$name:$tag" "$@") ||
    die "building the image $name failed"
  mkdir -p "$IMAGES_DIR"
  echo "$REGISTRY/slipway/$name@${ref##*@}" >"$IMAGES_DIR/$name"
}

# What every node needs before its first pod: the pause image, a busybox base for builds and
# the test app.
push_base_images() {
  local stage
  stage=$(mktemp -d "${TMPDIR:-/tmp}/slipway-image.XXXXXX")
  mkdir -p "$stage/pause"
  install -m 755 "$CACHE_BIN/pause" "$stage/pause/pause"
  push_to_node pause "$stage/pause" "" 3.10 --entrypoint=/pause --user=65535:65535

  busybox_root "$stage/busybox"
  push_to_node busybox "$stage/busybox" "" 1 --cmd=/bin/sh
  mkdir -p "$stage/testapp/bin"
  install -m 755 "$HERE/images/testapp.sh" "$stage/testapp/bin/testapp"
  push_to_node testapp "$stage/testapp" "127.0.0.1:$TESTENV_REGISTRY_PORT/slipway/busybox:1" 1 \
    --entrypoint=/bin/testapp --exposed-ports=8080/tcp
  rm -rf "$stage"
}

busybox_root() {
  local root=$1 applet
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
  chmod 1777 "$root/tmp"
  install -m 755 /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
}

# The operator's image from its release build, with the entrypoint, user, port and binary
# path that the Dockerfile's final stage declares (read from it, so the two cannot drift):
# the binary, the shared libraries it links, CA certificates and the nonroot user, no shell.
image_operator() {
  local binary=$ROOT/target/release/slipway-operator target=${1:-} stage ref
  [ -x "$binary" ] || die "no $binary: run \`cargo build --release -p slipway-operator\` first"
  [ -f /etc/ssl/certs/ca-certificates.crt ] || die "no /etc/ssl/certs/ca-certificates.crt (Debian package ca-certificates)"
  local entrypoint user port path
  entrypoint=$(dockerfile_final ENTRYPOINT | tr -d '[]" ')
  user=$(dockerfile_final USER)
  port=$(dockerfile_final EXPOSE)
  path=$(dockerfile_final COPY | awk '{ print $NF }')
  [ -n "$entrypoint" ] && [ -n "$user" ] && [ -n "$port" ] && [ -n "$path" ] ||
    die "cannot read ENTRYPOINT, USER, EXPOSE and COPY of the Dockerfile's final stage"

  stage=$(mktemp -d "${TMPDIR:-/tmp}/slipway-image.XXXXXX")
  install -D -m 755 "$binary" "$stage$path"
  local lib
  for lib in $(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    cp -L --parents "$lib" "$stage/"
  done
  install -D -m 644 /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$stage/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$stage/etc/group"
  mkdir -p "$stage/tmp" "$stage/home/nonroot"
  chmod 1777 "$stage/tmp"
  chown 65532:65532 "$stage/home/nonroot"

  local version revision flags label
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
  revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
  flags=(--entrypoint="$entrypoint" --user="$user" --exposed-ports="$port/tcp"
    --env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    --env=SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
  # The final stage's LABELs, with its build arguments VERSION and REVISION filled in.
  while IFS= read -r label; do
    [ -n "$label" ] || continue
    label=${label//\$\{VERSION\}/$version}
    label=${label//\$\{REVISION\}/$revision}
    flags+=(--label="${label//\"/}")
  done < <(dockerfile_final_all LABEL)
  [ ${#flags[@]} -gt 5 ] || die "no LABEL in the Dockerfile's final stage"
  if [ -n "$target" ]; then
    ref=$(build_image "$stage" "" "$target" "${flags[@]}") || die "building the operator image failed"
    echo "$ref"
  else
    push_to_node operator "$stage" "" "$version" "${flags[@]}"
    cat "$IMAGES_DIR/operator"
  fi
  rm -rf "$stage"
}

# The argument of the first INSTRUCTION in the Dockerfile's final stage.
dockerfile_final() {
  awk -v want="$1" '
    toupper($1) == "FROM" { final = "" }
    toupper($1) == want && final == "" { $1 = ""; sub(/^ +/, ""); final = $0 }
    END { print final }' "$ROOT/Dockerfile"
}

# The arguments of every INSTRUCTION in the Dockerfile's final stage, one a line.
dockerfile_final_all() {
  awk -v want="$1" '
    toupper($1) == "FROM" { n = 0 }
    toupper($1) == want { $1 = ""; sub(/^ +/, ""); found[++n] = $0 }
    END { for (i = 1; i <= n; i++) print found[i] }' "$ROOT/Dockerfile"
}
