# Relay: slim, non-root, works with a read-only root filesystem; core dumps are disabled at start-up.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY relay ./relay
COPY connectors ./connectors
RUN pip install --no-cache-dir --prefix=/install '.[otlp]'

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=0
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin relay \
 && install -d -o 10001 -m 0700 /var/lib/relay
# The consent ledger (opt-outs, no content) when [consent] backend = "sqlite": keep it on a named volume,
#   -v relay-data:/var/lib/relay   (or use backend = "postgres" with several replicas).
ENV RELAY_DATA_DIR=/var/lib/relay
VOLUME /var/lib/relay
USER 10001
EXPOSE 8080
# With no config the sandbox runs; mount a config and point RELAY_CONFIG at it for a real workspace:
#   docker run --read-only --ulimit core=0 -v $PWD/relay.toml:/etc/relay/relay.toml:ro \
#     -e RELAY_CONFIG=/etc/relay/relay.toml -e RELAY_KEY_K1=... -p 8080:8080 relay
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD ["python", "-c", "import sys,urllib.request;sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz',timeout=2).status==200 else 1)"]
# The sandbox beyond localhost needs -e RELAY_SANDBOX_KEY=<agent inbox key>.
ENTRYPOINT ["relay", "run", "--host", "0.0.0.0"]
