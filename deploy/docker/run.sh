#!/bin/bash
# Demo application for the secretprov client images. It reports which secrets reached it:
#   - files that `secretprov client exec --out-dir /run/secrets` wrote (client.Dockerfile), and
#   - SECRET_PROVISION_SECRET_STRING, set by Gramine's libsecret_prov_attest.so constructor
#     (gramine-native-client.Dockerfile).
#
# By default it prints only names and sizes, never values. The demo images set
# SECRETPROV_DEMO_PRINT_SECRET=1 in their GSC manifests (so the choice is part of MRENCLAVE) and
# then it also prints the value the way Gramine's example client does:
#   --- Received secret = 'A_SIMPLE_SECRET'
# That is acceptable ONLY because the demo secret is not sensitive. A real application must never
# print a secret; drop that manifest line for anything else.
#
# Only bash builtins are used to read the secrets: inside Gramine, the tmpfs /run/secrets belongs
# to this process (it survives execve, not fork), so the files are never handed to a child.
set -u
export LC_ALL=C # sizes in bytes

secrets_dir=${SECRETS_DIR:-/run/secrets}
print_values=${SECRETPROV_DEMO_PRINT_SECRET:-0}
received=0

report() { # name value
	local name=$1 value=$2
	received=$((received + 1))
	if [[ $print_values == 1 ]]; then
		printf -- "--- Received secret = '%s'\n" "$value"
	else
		printf 'secret %s: received (%d bytes)\n' "$name" "${#value}"
	fi
}

if [[ -d $secrets_dir ]]; then
	for f in "$secrets_dir"/*; do
		[[ -f $f ]] || continue
		value=
		# -d '' reads up to the first NUL: a Gramine-style NUL-terminated secret prints cleanly.
		IFS= read -r -d '' value <"$f" || true
		report "${f##*/}" "$value"
	done
fi

if [[ -n ${SECRET_PROVISION_SECRET_STRING+set} ]]; then
	report SECRET_PROVISION_SECRET_STRING "$SECRET_PROVISION_SECRET_STRING"
fi

if ((received == 0)); then
	echo "no secret received: nothing in $secrets_dir and SECRET_PROVISION_SECRET_STRING is unset" >&2
	exit 1
fi
echo "secretprov demo: $received secret(s) received"
