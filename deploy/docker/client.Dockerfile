# syntax=docker/dockerfile:1
#
# secretprov demo client: the base image that GSC (Gramine Shielded Containers) turns into an SGX
# enclave image. GSC requires an Ubuntu (or another supported distro) base; the Gramine version
# GSC installs must match this distro (GSC config.yaml: Distro: "ubuntu:22.04").
#
# At start, inside the enclave, `secretprov client exec` creates an RA-TLS certificate with a
# fresh DCAP quote (/dev/attestation, out-of-proc through the node's AESM socket), connects to the
# servers in SECRET_PROVISION_SERVERS (the pod's env, passed through by the manifest), verifies the
# server against the CA baked into this image, writes the granted secrets to /run/secrets (a tmpfs
# that exists only inside the enclave, deploy/gsc/secretprov-client.manifest) and then execs the
# application, /app/run.sh.
#
# Build from the repository root (deploy/build-images.sh does this):
#   docker build --platform linux/amd64 -f deploy/docker/client.Dockerfile \
#     --build-arg SERVER_IMAGE=secretprov-server:dev --build-arg CA_CERT=deploy/certs/ca.crt \
#     -t secretprov-client:dev .
#
# Everything in this image becomes a trusted file of the enclave and so part of its MRENCLAVE:
# changing the CA, the script or the binary changes the measurement the server's policy pins.

# The secretprov binary is copied out of the server image, so both images carry the same build of
# the same command line (server.Dockerfile).
ARG SERVER_IMAGE=secretprov-server:latest
FROM ${SERVER_IMAGE} AS secretprov

FROM ubuntu:22.04
# The CA that signed the server's TLS certificate (deploy/certs/ca.crt by default; see docs/aks.md).
ARG CA_CERT=deploy/certs/ca.crt
COPY --from=secretprov /secretprov /usr/local/bin/secretprov
COPY --chmod=0755 deploy/docker/run.sh /app/run.sh
COPY --chmod=0444 ${CA_CERT} /etc/secretprov/ca.crt
WORKDIR /app
# No ENV here on purpose: GSC turns every image ENV into a loader.env entry, and the manifest owns
# the enclave's environment (SECRET_PROVISION_CA_CHAIN_PATH, SECRET_PROVISION_SERVERS passthrough).
ENTRYPOINT ["/usr/local/bin/secretprov", "client", "exec", "--attester", "gramine", "--out-dir", "/run/secrets", "--", "/app/run.sh"]
