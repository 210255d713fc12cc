# syntax=docker/dockerfile:1
#
# secretprov server image: one static Go binary on distroless, running as a non-root user.
# No Intel SGX libraries are installed: the DCAP quote verifier is pure Go and fetches Intel's
# collateral over HTTPS itself (Intel PCS, a PCCS or Azure's cache; see verifier.pcs_url).
#
# Build from the repository root (deploy/build-images.sh does this):
#   docker build --platform linux/amd64 -f deploy/docker/server.Dockerfile -t secretprov-server:dev .
#
# The `go build` line below is the only place the binary's build command is written down. The
# client images copy the binary out of this image (client.Dockerfile), and
# deploy/deploytest/dockerfile_test.go runs this exact line outside Docker and checks that the
# result is statically linked. Keep it on one line.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# build-command:
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/secretprov ./cmd/secretprov

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/secretprov /secretprov
# 65532 is distroless's "nonroot"; the Kubernetes manifests pin the same UID/GID.
USER 65532
# 4433: provisioning (TLS, RA-TLS client certificates). 9090: admin HTTP (/healthz, /readyz, /metrics).
EXPOSE 4433 9090
ENTRYPOINT ["/secretprov"]
CMD ["server", "--config", "/etc/secretprov/config.yaml"]
