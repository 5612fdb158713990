# syntax=docker/dockerfile:1
# The slipway-operator image: a release build on Debian, run from distroless as a non-root user.
# Build from the repository root: docker build -t <registry>/slipway-operator:<version> .

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The caches only speed up rebuilds; the binary is copied out of the cached target dir.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p slipway-operator --bin slipway-operator \
    && install -D target/release/slipway-operator /out/slipway-operator

# glibc and libgcc for the Rust binary, CA certificates, no shell; user 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/slipway-operator /usr/local/bin/slipway-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/slipway-operator"]
