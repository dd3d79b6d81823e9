# syntax=docker/dockerfile:1
# The kube-spread image: a static musl binary, built --locked from this repository, on distroless
# "static" as user 65532 with no shell. `.ci/chart` checks the shape of this file (stages, flags,
# USER equal to the chart's securityContext); it does not build it.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/kube-spread/kube-spread:0.1.0 .

# The toolchain the project is developed with (rust-version in Cargo.toml is the floor).
FROM docker.io/library/rust:1.95.0-slim-bookworm AS builder

# musl-gcc for the C code of mimalloc (cc-rs picks it for the *-linux-musl targets).
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*

# Build natively for the platform being built (amd64 or arm64).
RUN case "$(uname -m)" in \
      x86_64) echo x86_64-unknown-linux-musl ;; \
      aarch64) echo aarch64-unknown-linux-musl ;; \
      *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;; \
    esac > /rust-target \
 && rustup target add "$(cat /rust-target)"

WORKDIR /src
# Only what the build reads: the manifest and lock file, the sources (the planner is a workspace
# member of its own), and the benches that Cargo.toml declares (cargo refuses a manifest whose
# declared targets are missing).
COPY Cargo.toml Cargo.lock ./
COPY planner ./planner
COPY src ./src
COPY benches ./benches

ENV CARGO_TERM_COLOR=never \
    CC_x86_64_unknown_linux_musl=musl-gcc \
    CC_aarch64_unknown_linux_musl=musl-gcc
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(cat /rust-target)" \
 && cargo build --release --locked --target "$target" --bin kube-spread \
 && cp "target/$target/release/kube-spread" /kube-spread \
 && if readelf -d /kube-spread | grep -q NEEDED; then echo "kube-spread is not static" >&2; exit 1; fi \
 && /kube-spread --version

# distroless "static": CA certificates, tzdata and /etc/passwd with nonroot (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kube-spread" \
      org.opencontainers.image.description="Keeps pods evenly spread across nodes and zones" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/kube-spread/kube-spread" \
      org.opencontainers.image.url="https://github.com/kube-spread/kube-spread" \
      org.opencontainers.image.documentation="https://github.com/kube-spread/kube-spread/tree/main/docs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"

COPY --from=builder --chown=0:0 --chmod=0555 /kube-spread /kube-spread
USER 65532:65532
# The metrics, /healthz and /readyz port of `kube-spread run`.
EXPOSE 8080
ENTRYPOINT ["/kube-spread"]
CMD ["run"]
