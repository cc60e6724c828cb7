#!/usr/bin/env bash
# Builds the e2e control plane's binaries from the Go module proxy into a cache folder keyed by
# version and by the go.sum files, and prints that folder's bin/ path:
#
#   ${GROUNDWORK_E2E_CACHE:-$HOME/.cache/groundwork-e2e}/kcp-v1.34.2-kwok-v0.8.0-<hash>/bin
#
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl: k8s.io/kubernetes v1.34.2
#   through the wrapper module in src/ (each k8s.io staging module replaced by its v0.34.2);
# etcd: src/cmd/etcd, a launcher on go.etcd.io/etcd/server/v3 v3.6.4 (embed);
# kwok: sigs.k8s.io/kwok v0.8.0 through the wrapper module in kwoksrc/.
#
# When the folder is complete it prints the path and does nothing else. A cold build takes
# 20-40 minutes of a 2-core machine (see README.md in this folder). Needs Go >= 1.26.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

K8S=v1.34.2
KWOK=v0.8.0
BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

hash=$(cat "$here/src/go.sum" "$here/kwoksrc/go.sum" | sha256sum | cut -c1-12)
cache=${GROUNDWORK_E2E_CACHE:-$HOME/.cache/groundwork-e2e}
dir=$cache/kcp-$K8S-kwok-$KWOK-$hash
bin=$dir/bin

complete() {
  [ -f "$bin/.complete" ] || return 1
  local b
  for b in "${BINS[@]}"; do [ -x "$bin/$b" ] || return 1; done
}
if complete; then
  echo "$bin"
  exit 0
fi

maj=$(echo "${K8S#v}" | cut -d. -f1)
min=$(echo "${K8S#v}" | cut -d. -f2)
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=$K8S -X $p.gitMajor=$maj -X $p.gitMinor=$min -X $p.gitTreeState=clean"
done

export CGO_ENABLED=0
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "build.sh: building into $bin (cold: 20-40 min on 2 cores)" >&2
(cd "$here/src" && go build -trimpath -ldflags "$ld" -o "$tmp/" ./cmd/etcd \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
(cd "$here/kwoksrc" && go build -trimpath -ldflags "-s -w" -o "$tmp/" sigs.k8s.io/kwok/cmd/kwok)

for b in "${BINS[@]}"; do [ -x "$tmp/$b" ] || { echo "build.sh: $b was not built" >&2; exit 1; }; done
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
{
  echo "k8s.io/kubernetes $K8S"
  echo "sigs.k8s.io/kwok $KWOK"
  go version
} > "$bin/.complete"
echo "$bin"
