# syntax=docker/dockerfile:1
# The slipway-operator image: a release build on Debian, run from distroless as a non-root user.
# Build from the repository root:
#   docker build --build-arg REVISION=$(git rev-parse HEAD) -t <registry>/slipway-operator:<version> .

FROM docker.io/library/rust:1.95-bookworm AS build
# The git commit built, for the labels and slipway_build_info:
# docker build --build-arg REVISION=$(git rev-parse HEAD) .
ARG REVISION=unknown
WORKDIR /src
COPY . .
# The caches only speed up rebuilds; the binary is copied out of the cached target dir.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    SLIPWAY_REVISION=${REVISION} cargo build --release --locked -p slipway-operator --bin slipway-operator \
    && install -D target/release/slipway-operator /out/slipway-operator

# glibc and libgcc for the Rust binary, CA certificates, no shell; user 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
# The workspace version (Cargo.toml) and the commit; `make image` sets the same labels.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="slipway-operator"
LABEL org.opencontainers.image.source="https://github.com/slipway-dev/slipway"
LABEL org.opencontainers.image.version="${VERSION}"
LABEL org.opencontainers.image.revision="${REVISION}"
LABEL org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/slipway-operator /usr/local/bin/slipway-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/slipway-operator"]
