# quotecast in a container: built from this checkout, run as a non-root
# user on a small Debian base. The first build compiles the whole
# dependency tree (polars among it): tens of minutes on two cores.
#
#   docker build --build-arg QUOTECAST_GIT_REVISION=$(git rev-parse --short=12 HEAD) -t quotecast .
#   docker run -p 50051:50051 -p 9090:9090 \
#     -v $PWD/auth.toml:/etc/quotecast/auth.toml:ro -e QC_KEY_SECRET=... quotecast
#
# Listening beyond loopback needs an auth file (QUOTECAST_AUTH, mounted
# read-only; see docs/auth.example.toml): without one the server refuses
# to start rather than serve everyone as an anonymous admin.

FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
ARG QUOTECAST_GIT_REVISION=unknown
ENV QUOTECAST_GIT_REVISION=${QUOTECAST_GIT_REVISION}
RUN cargo build --locked --profile dist -p quotecast \
 && cp target/dist/quotecast /usr/local/bin/quotecast

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/quotecast quotecast \
 && mkdir -p /var/lib/quotecast/data /etc/quotecast \
 && chown -R quotecast:quotecast /var/lib/quotecast
COPY --from=build /usr/local/bin/quotecast /usr/local/bin/quotecast
COPY rules /etc/quotecast/rules
USER 10001:10001
WORKDIR /var/lib/quotecast
ENV QUOTECAST_ADDR=0.0.0.0:50051 \
    QUOTECAST_METRICS_ADDR=0.0.0.0:9090 \
    QUOTECAST_RULES=/etc/quotecast/rules \
    QUOTECAST_DATA=/var/lib/quotecast/data \
    QUOTECAST_AUTH=/etc/quotecast/auth.toml \
    QUOTECAST_LOG_FORMAT=json
EXPOSE 50051 9090
VOLUME ["/var/lib/quotecast/data"]
# The gRPC health service, asked by the binary itself (no extra tool).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["quotecast", "health", "--server", "http://127.0.0.1:50051"]
ENTRYPOINT ["quotecast", "serve"]
