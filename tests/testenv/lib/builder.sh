# The builder image (operator/builder/Dockerfile's layout) without a container engine:
# busybox, BuildKit's buildkitd and buildctl, runc with the libraries it links, crane, CA
# certificates and Slipway's two build scripts. Sourced by tests/testenv/testenv after lib/images.sh.

image_builder() {
  local target=${1:-} stage lib runc
  runc=$(command -v runc) || die "no runc (Debian package runc): run \`testenv build\`"
  stage=$(mktemp -d "${TMPDIR:-/tmp}/slipway-image.XXXXXX")
  busybox_root "$stage"
  install -m 755 "$CACHE_BIN/buildkitd" "$CACHE_BIN/buildctl" "$CACHE_BIN/crane" \
    "$ROOT/operator/builder/slipway-source" "$ROOT/operator/builder/slipway-build" "$stage/bin/"
  install -m 755 "$runc" "$stage/bin/runc"
  for lib in $(ldd "$runc" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    cp -L --parents "$lib" "$stage/"
  done
  install -D -m 644 /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$stage/workspace" "$stage/var/lib/buildkit" "$stage/run"
  local flags=(--env=PATH=/usr/bin:/bin:/usr/sbin:/sbin
    --label=org.opencontainers.image.title=slipway-builder
    --label=org.opencontainers.image.version="$BUILDKIT_VERSION")
  if [ -n "$target" ]; then
    build_image "$stage" "" "$target" "${flags[@]}" || die "building the builder image failed"
  else
    push_to_node builder "$stage" "" "$BUILDKIT_VERSION" "${flags[@]}"
    cat "$IMAGES_DIR/builder"
  fi
  rm -rf "$stage"
}
