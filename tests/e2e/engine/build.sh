#!/usr/bin/env bash
# Builds a real Pulumi engine and the providers Groundwork's program uses, from what the Go module
# proxy serves, into ${GROUNDWORK_E2E_CACHE:-$HOME/.cache/groundwork-e2e}/pulumi-v<cli>-k8s-<provider>/.
# Does nothing when that folder is complete; prints it last. Logs go to <folder>/logs/.
# Cold: about 45 min of 2 cores for the CLI, see tests/e2e/engine/README.md.
set -euo pipefail

PULUMI_VERSION=v3.274.1
# The pulumi-kubernetes provider: the proxy serves its provider/v4 module at no tagged version
# (the repository tags v4.x.y, not provider/v4.x.y), only at one pseudo-version, which is `@latest`:
# commit f47bc2d6f199, the v4.25.0 release (git describe --tags; sdk/v4.25.0 is the same release).
# Newer commits (v4.32.0 is a03ff6ba58d2) are refused ("This module version is not available").
K8S_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_VERSION=4.25.0
K8S_SDK_MODULE=github.com/pulumi/pulumi-kubernetes/sdk/v4

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${GROUNDWORK_E2E_CACHE:-$HOME/.cache/groundwork-e2e}"
out="$cache/pulumi-${PULUMI_VERSION}-k8s-${K8S_PROVIDER_VERSION}"
mkdir -p "$out/bin" "$out/logs"
work="$out/src"

log() { echo "build.sh: $*" >&2; }

# timed NAME CMD...: runs CMD, appending wall and CPU seconds to $out/logs/times.txt.
timed() {
	local name=$1; shift
	local start end
	start=$(date +%s)
	/usr/bin/time -f "$name wall=%es user=%Us sys=%Ss maxrss=%MkB" -a -o "$out/logs/times.txt" "$@"
	end=$(date +%s)
	log "$name done in $((end - start))s"
}

moddir() { # moddir MODULE@VERSION: the module cache folder of a module the proxy serves
	(cd / && GOFLAGS=-mod=mod go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

build_cli() {
	[ -x "$out/bin/pulumi" ] && return
	log "pulumi CLI ${PULUMI_VERSION} (about 45 min cold on 2 cores; log: $out/logs/cli.log)"
	local pkg sdk
	pkg=$(moddir "github.com/pulumi/pulumi/pkg/v3@${PULUMI_VERSION}")
	sdk=$(moddir "github.com/pulumi/pulumi/sdk/v3@${PULUMI_VERSION}")
	rm -rf "$work/pulumi"; mkdir -p "$work/pulumi"
	# pkg's go.mod says `replace github.com/pulumi/pulumi/sdk/v3 => ../sdk`: keep that layout.
	cp -r "$pkg" "$work/pulumi/pkg"; cp -r "$sdk" "$work/pulumi/sdk"
	chmod -R u+w "$work/pulumi"
	(cd "$work/pulumi/pkg" && timed cli nice -n 5 go build -trimpath -o "$out/bin/pulumi.tmp" \
		-ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_VERSION}" \
		./cmd/pulumi) >"$out/logs/cli.log" 2>&1 || { log "CLI build failed, see $out/logs/cli.log"; tail -20 "$out/logs/cli.log" >&2; exit 1; }
	mv "$out/bin/pulumi.tmp" "$out/bin/pulumi"
}

build_kubernetes() {
	[ -x "$out/bin/pulumi-resource-kubernetes" ] && return
	log "pulumi-resource-kubernetes ${K8S_PROVIDER_VERSION} from ${K8S_PROVIDER_MODULE}@${K8S_PROVIDER_PSEUDO} (log: $out/logs/kubernetes.log)"
	local prov sdk
	prov=$(moddir "${K8S_PROVIDER_MODULE}@${K8S_PROVIDER_PSEUDO}")
	sdk=$(moddir "${K8S_SDK_MODULE}@v${K8S_PROVIDER_VERSION}")
	rm -rf "$work/kubernetes"; mkdir -p "$work/kubernetes"
	# provider/go.mod says `replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => ../sdk`: put the
	# served sdk of the same release there.
	cp -r "$prov" "$work/kubernetes/provider"; cp -r "$sdk" "$work/kubernetes/sdk"
	chmod -R u+w "$work/kubernetes"
	(
		cd "$work/kubernetes/provider/cmd/pulumi-resource-kubernetes"
		# What the provider's Makefile does before building: `VERSION=... go generate` runs
		# generate.go, which writes schema-embed.json (schema.json with the version set) and
		# terraform-mapping-embed.json, both go:embed-ded by main.go.
		VERSION="${K8S_PROVIDER_VERSION}" timed kubernetes-generate nice -n 5 go run -mod=mod ./generate.go
		timed kubernetes nice -n 5 go build -mod=mod -trimpath -o "$out/bin/pulumi-resource-kubernetes.tmp" \
			-ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${K8S_PROVIDER_VERSION}" .
	) >"$out/logs/kubernetes.log" 2>&1 || { log "kubernetes provider build failed, see $out/logs/kubernetes.log"; tail -20 "$out/logs/kubernetes.log" >&2; exit 1; }
	mv "$out/bin/pulumi-resource-kubernetes.tmp" "$out/bin/pulumi-resource-kubernetes"
}

# The stand-in random and tls providers (standin/): the proxy serves neither pulumi-random's nor
# pulumi-tls's provider module. Built from this checkout's main module; rebuilt when its sources
# change. One binary, installed under both names.
build_standin() {
	local repo sum
	repo="$(cd "$here/../../.." && pwd)"
	sum=$(cat "$here"/standin/*.go "$repo/go.mod" | sha256sum | cut -d' ' -f1)
	[ -x "$out/bin/pulumi-resource-random" ] && [ "$(cat "$out/bin/standin.sha256" 2>/dev/null)" = "$sum" ] && return
	log "stand-in random and tls providers (log: $out/logs/standin.log)"
	(cd "$repo" && timed standin go build -trimpath -o "$out/bin/pulumi-resource-random" ./tests/e2e/engine/standin) \
		>"$out/logs/standin.log" 2>&1 || { log "stand-in build failed, see $out/logs/standin.log"; tail -20 "$out/logs/standin.log" >&2; exit 1; }
	cp "$out/bin/pulumi-resource-random" "$out/bin/pulumi-resource-tls"
	rm -rf "$out/home/plugins/resource-random-"* "$out/home/plugins/resource-tls-"*
	echo "$sum" >"$out/bin/standin.sha256"
}

# install_plugin NAME VERSION: into $out/home, the PULUMI_HOME the tests' homes link plugins/ from.
# VERSION is what the program's SDK asks for (its pulumi-plugin.json): kubernetes 4.32.0 (the
# SDK go.mod pins) is served by the 4.25.0 binary; the engine does not check a plugin's own version.
install_plugin() {
	local name=$1 version=$2
	[ -x "$out/home/plugins/resource-$name-v$version/pulumi-resource-$name" ] && return
	PULUMI_HOME="$out/home" PULUMI_SKIP_UPDATE_CHECK=true "$out/bin/pulumi" plugin install resource "$name" "$version" \
		-f "$out/bin/pulumi-resource-$name" >>"$out/logs/plugins.log" 2>&1 ||
		{ log "installing plugin $name $version failed, see $out/logs/plugins.log"; tail -5 "$out/logs/plugins.log" >&2; exit 1; }
}

case "${1:-all}" in
cli) build_cli ;;
kubernetes) build_kubernetes ;;
standin) build_standin ;;
all)
	build_cli
	build_kubernetes
	build_standin
	# Keep in step with engine.Plugins.
	install_plugin kubernetes 4.32.0
	install_plugin random 4.19.1
	install_plugin tls 5.5.1
	touch "$out/COMPLETE"
	;;
*) echo "usage: build.sh [all|cli|kubernetes|standin]" >&2; exit 2 ;;
esac
echo "$out"
