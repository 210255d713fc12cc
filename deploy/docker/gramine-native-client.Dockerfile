# syntax=docker/dockerfile:1
#
# Drop-in variant: an application that uses Gramine's own secret provisioning client,
# libsecret_prov_attest.so, against the secretprov server, with no secretprov code in the enclave.
# GSC installs Gramine (and so the library); deploy/gsc/gramine-native-client.manifest preloads it
# with SECRET_PROVISION_CONSTRUCTOR=1, so the secret is provisioned before bash's main() and
# exported as SECRET_PROVISION_SECRET_STRING, exactly as in Gramine's aks-attestation example.
#
# Build from the repository root (deploy/build-images.sh does this):
#   docker build --platform linux/amd64 -f deploy/docker/gramine-native-client.Dockerfile \
#     --build-arg CA_CERT=deploy/certs/ca.crt -t secretprov-gramine-native-client:dev .

FROM ubuntu:22.04
ARG CA_CERT=deploy/certs/ca.crt
COPY --chmod=0755 deploy/docker/run.sh /app/run.sh
COPY --chmod=0444 ${CA_CERT} /etc/secretprov/ca.crt
WORKDIR /app
ENTRYPOINT ["/bin/bash", "/app/run.sh"]
