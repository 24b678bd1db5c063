# bedrock-tuner sidecar image. Build: docker build -t bedrock-tuner .
# Multi-stage: the Rust toolchain stays in the builder; the runtime image
# holds the binary, CA certificates and the example configuration only.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY data ./data
RUN cargo build --release --locked --bin bedrock-tuner

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/bedrock-tuner /usr/local/bin/bedrock-tuner
COPY sidecar.toml /etc/bedrock-tuner/sidecar.toml
USER 65532:65532
# Loopback by default: the app container shares the pod's or task's network
# namespace, so nothing outside it can reach the proxy or the admin port.
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/bedrock-tuner"]
CMD ["serve", "--config", "/etc/bedrock-tuner/sidecar.toml"]
