#!/usr/bin/env bash
# End-to-end on a throwaway kind cluster: build the image, install the chart, run the router with the gateway
# sidecar, apply examples/, call through the gateway with curl, rotate a key, tear everything down.
# Needs docker, kind, kubectl, helm and curl. KEEP=1 keeps the cluster for poking around.
set -euo pipefail
cd "$(dirname "$0")/../../.."

CLUSTER=${CLUSTER:-nemokeys-e2e}
IMAGE=nemokeys:e2e
NS=nemokeys-system
PORT=${PORT:-18000}
BASE="http://127.0.0.1:$PORT/v1"
PF_PID=""

teardown() {
  [ -n "$PF_PID" ] && kill "$PF_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept cluster $CLUSTER"; else kind delete cluster --name "$CLUSTER"; fi
}
trap teardown EXIT

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# HTTP status of a chat completion with key $1 (may be empty) and model $2. The key never reaches the output.
status() {
  curl -s -o /dev/null -w '%{http_code}' "$BASE/chat/completions" -H 'content-type: application/json' \
    ${1:+-H "authorization: Bearer $1"} -d "{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
}
expect_status() { # want key model what
  local got; got=$(status "$2" "$3")
  [ "$got" = "$1" ] || fail "$4: expected HTTP $1, got $got"
  echo "ok: $4 -> $got"
}
secret_key() { kubectl -n checkout get secret "$1" -o "jsonpath={.data.$2}" | base64 -d; }

step "cluster and image"
kind create cluster --name "$CLUSTER" --wait 120s
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

step "install the chart"
helm install nemokeys charts/nemokeys -n "$NS" --create-namespace \
  --set image.repository=nemokeys --set image.tag=e2e --set image.pullPolicy=Never --wait --timeout 3m

step "router with the gateway sidecar"
sed "s#ghcr.io/nemorouter/nemokeys:0.1.0#$IMAGE#" charts/nemokeys/examples/router-with-gateway.yaml | kubectl -n "$NS" apply -f -
kubectl -n "$NS" rollout status deploy/llm-router --timeout 3m

step "Team and ApiKeys from examples/"
kubectl apply -f examples/
kubectl -n checkout wait --for=condition=Ready apikey/dev-checkout-service apikey/prod-checkout-service --timeout 2m
kubectl -n checkout get apikeys

step "calls through the gateway"
kubectl -n "$NS" port-forward svc/llm-router "$PORT:80" >/dev/null 2>&1 &
PF_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "$BASE/models" && break; sleep 0.2; done
DEV_KEY=$(secret_key dev-checkout-service api-key)
expect_status 401 "" gpt-4o-mini "no key"
TYPO="${DEV_KEY%?}$([ "${DEV_KEY: -1}" = x ] && echo y || echo x)"
expect_status 401 "$TYPO" gpt-4o-mini "mistyped key (checksum)"
expect_status 200 "$DEV_KEY" gpt-4o-mini "dev key, allowed model"
expect_status 403 "$DEV_KEY" gemini-2.5-pro "dev key, model outside its allowlist"
# port-forward traffic arrives from loopback, outside the prod key's allowlist (10.20.0.0/16, 2001:db8:20::/48).
expect_status 401 "$(secret_key checkout-llm OPENAI_API_KEY)" gpt-4o-mini "prod key from outside its IP allowlist"

step "rotate the dev key"
OLD_ID=$(kubectl -n checkout get apikey dev-checkout-service -o 'jsonpath={.status.currentKeyId}')
kubectl -n checkout annotate apikey dev-checkout-service "keys.nemorouter.io/rotate=$(date +%s)" --overwrite
for _ in $(seq 60); do
  NEW_ID=$(kubectl -n checkout get apikey dev-checkout-service -o 'jsonpath={.status.currentKeyId}')
  [ "$NEW_ID" != "$OLD_ID" ] && break
  sleep 1
done
[ "$NEW_ID" != "$OLD_ID" ] || fail "key id did not change after the rotate annotation"
echo "ok: key id $OLD_ID -> $NEW_ID"
NEW_KEY=$(secret_key dev-checkout-service api-key)
[ "$NEW_KEY" != "$DEV_KEY" ] || fail "workload Secret still holds the old key"
for _ in $(seq 30); do [ "$(status "$NEW_KEY" gpt-4o-mini)" = 200 ] && break; sleep 1; done
expect_status 200 "$NEW_KEY" gpt-4o-mini "successor key"
expect_status 200 "$DEV_KEY" gpt-4o-mini "predecessor stays valid until the hand-off"
kubectl -n checkout get apikey dev-checkout-service -o 'jsonpath={range .status.keys[*]}{.id}{"\t"}{.state}{"\n"}{end}'

step "e2e passed"
