# `sim` in a small runtime image (the seed's recommender service): see compose.yaml.
#   docker build --build-arg BOTIFY_COMMIT=$(git rev-parse HEAD) -t botify-sim .
#   docker run --rm -p 5001:5001 botify-sim            # sim serve on 0.0.0.0:5001

# Build stage: the release binary only. The registry and target/ are build caches, so a
# rebuild after a source change compiles the project, not its dependencies.
FROM rust:1.95-slim-bookworm AS build
# The commit the binary names (`sim --version`, run.json): build.rs reads it from the
# environment, since the build context has no .git. Unset: "unknown".
ARG BOTIFY_COMMIT=
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin sim \
    && cp target/release/sim /usr/local/bin/sim

# Runtime stage: Debian slim (the glibc the binary was linked against), no toolchain,
# a non-root user; /app/log holds the replica's event log (where the course's
# dataclient.py looks), /app/cache the artifacts volume.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /app botify \
    && mkdir -p /app/log /app/cache \
    && chown botify:botify /app/log /app/cache
COPY --from=build /usr/local/bin/sim /usr/local/bin/sim
WORKDIR /app
COPY --chown=botify:botify config config
COPY --chown=botify:botify experiments experiments
USER botify
EXPOSE 5001
ENTRYPOINT ["sim"]
CMD ["serve", "--host", "0.0.0.0", "--port", "5001", "--log", "/app/log/served.jsonl"]
