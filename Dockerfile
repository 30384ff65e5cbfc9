# syntax=docker/dockerfile:1
#
# messenger-bridge as a static binary on an empty image, for 64-bit PCs and
# Raspberry Pis with a 64-bit system, the platforms Home Assistant supports:
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     -t messenger-bridge .
#
# (add --push -t <registry>/messenger-bridge:<version> to publish the two
# as one multi-platform image; --load works for one platform at a time).
# --platform linux/arm/v7 still builds, for a 32-bit system.

ARG GO_VERSION=1.26

# The build runs on the builder's own platform and cross-compiles: no
# emulation, and one module cache for every target.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
RUN apk add --no-cache ca-certificates
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG TARGETVARIANT
ARG VERSION=dev
# GOARM matters only for 32-bit ARM: TARGETVARIANT "v7" (linux/arm/v7)
# becomes GOARM 7, and other platforms ignore it. timetzdata embeds the time
# zone database, so that TZ works on an empty image.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS="$TARGETOS" GOARCH="$TARGETARCH" GOARM="${TARGETVARIANT#v}" \
    go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=${VERSION}" -o /out/messenger-bridge ./cmd/messenger-bridge \
 && mkdir /out/data

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="messenger-bridge" \
      org.opencontainers.image.description="Facebook Messenger messages from MQTT, for Home Assistant and Node-RED" \
      org.opencontainers.image.source="https://github.com/messenger-bridge/messenger-bridge" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/messenger-bridge /messenger-bridge
# 65532 is the usual "nonroot" user of minimal images. /data is theirs, so
# that a named volume mounted there starts out writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV DATA_DIR=/data
VOLUME /data
# Health and metrics (HTTP_ADDR).
EXPOSE 8080
# Liveness: `messenger-bridge health` exits 1 when the process stops
# answering. It does not fail while the broker is away: the bridge
# reconnects by itself, and a restart would not help (README, "Run it").
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/messenger-bridge", "health"]
ENTRYPOINT ["/messenger-bridge"]
CMD ["run"]
