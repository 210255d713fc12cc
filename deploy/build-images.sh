#!/usr/bin/env bash
# Build the secretprov container images and print the GSC steps that turn the client images into
# SGX enclave images (the counterpart of Gramine's base-image-generation-script.sh).
#
#   deploy/build-images.sh REGISTRY [TAG]
#
# Builds, from the repository root as the build context:
#   secretprov-server:TAG                  deploy/docker/server.Dockerfile (distroless, static Go)
#   secretprov-client:TAG                  deploy/docker/client.Dockerfile (Ubuntu 22.04, for GSC)
#   secretprov-gramine-native-client:TAG   deploy/docker/gramine-native-client.Dockerfile
# and tags each as REGISTRY/NAME:TAG. Only the server image runs as it is; the client images
# are inputs to `gsc build`, which must be given the local names (GSC prefixes "gsc-" to the
# whole name, registry included). Set PUSH=1 to push REGISTRY/secretprov-server:TAG.
#
# Environment:
#   CA_CERT   the CA certificate the clients trust for the server (default deploy/certs/ca.crt;
#             must be a .crt file inside deploy/certs/, the only certificates the client images'
#             build context holds)
#   PUSH      1 = docker push the server image after building it
#   PLATFORM  docker build --platform (default linux/amd64: SGX nodes are x86-64)
set -euo pipefail

prog=build-images.sh

usage() {
	cat >&2 <<EOF
usage: $prog REGISTRY [TAG]
  REGISTRY  registry and path prefix to tag the images for, e.g. myacr.azurecr.io
  TAG       image tag (default: latest)
Environment: CA_CERT (default deploy/certs/ca.crt), PUSH=1, PLATFORM (default linux/amd64).
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help || -z $1 ]]; then
	usage
	exit 2
fi
registry=${1%/}
tag=${2:-latest}
platform=${PLATFORM:-linux/amd64}

# Only bash builtins before this point: the check must work with an empty PATH.
if ! command -v docker >/dev/null 2>&1; then
	die "docker not found in PATH. This script builds images with 'docker build': install Docker Engine (or Docker Desktop) and make sure 'docker info' works, then run it again."
fi
if ! docker info >/dev/null 2>&1; then
	die "docker is installed but cannot reach a Docker daemon ('docker info' failed). Start the daemon, or check DOCKER_HOST and your permissions on its socket."
fi

case ${BASH_SOURCE[0]} in
*/*) here=${BASH_SOURCE[0]%/*} ;;
*) here=. ;;
esac
root=$(cd "$here/.." && pwd)

ca_cert=${CA_CERT:-deploy/certs/ca.crt}
ca_cert=${ca_cert#"$root"/}
case $ca_cert in
deploy/certs/*.crt) ;;
*) die "CA_CERT=$ca_cert: the CA certificate must be a .crt file inside deploy/certs/ (all the client images' build context holds besides the demo script); copy it there." ;;
esac
if [[ ! -f $root/$ca_cert ]]; then
	die "$ca_cert not found. Create the CA and the server certificate first (docs/aks.md, \"Certificates\"), or point CA_CERT at your CA certificate."
fi

server=secretprov-server:$tag
client=secretprov-client:$tag
native=secretprov-gramine-native-client:$tag

build() { # image dockerfile [build args...]
	local image=$1 dockerfile=$2
	shift 2
	echo "==> docker build $image ($dockerfile)"
	docker build --platform "$platform" -f "$root/$dockerfile" "$@" -t "$image" "$root"
	docker tag "$image" "$registry/$image"
}

build "$server" deploy/docker/server.Dockerfile
build "$client" deploy/docker/client.Dockerfile --build-arg "SERVER_IMAGE=$server" --build-arg "CA_CERT=$ca_cert"
build "$native" deploy/docker/gramine-native-client.Dockerfile --build-arg "CA_CERT=$ca_cert"

if [[ ${PUSH:-0} == 1 ]]; then
	echo "==> docker push $registry/$server"
	docker push "$registry/$server"
fi

cat <<EOF

Built and tagged:
  $registry/$server
  $registry/$client   (GSC input)
  $registry/$native   (GSC input)

Next steps (docs/aks.md has the whole walkthrough):

1. Push the server image (or rerun with PUSH=1):
     docker push $registry/$server

2. Graminize and sign the client images, from a GSC checkout (https://github.com/gramineproject/gsc)
   whose config.yaml says Distro: "ubuntu:22.04". Sign with an RSA-3072 key with exponent 3,
   e.g. made by: openssl genrsa -3 -out enclave-key.pem 3072
     ./gsc build $client $root/deploy/gsc/secretprov-client.manifest
     ./gsc sign-image $client enclave-key.pem
     ./gsc build $native $root/deploy/gsc/gramine-native-client.manifest
     ./gsc sign-image $native enclave-key.pem

3. Read the enclave identities for the server's policy (workloads[].mrenclave, or mrsigner +
   isv_prod_id + min_isv_svn); "debug" must be false:
     ./gsc info-image gsc-$client
     ./gsc info-image gsc-$native

4. Push the signed images:
     docker tag gsc-$client $registry/gsc-$client
     docker push $registry/gsc-$client
     docker tag gsc-$native $registry/gsc-$native
     docker push $registry/gsc-$native
EOF
