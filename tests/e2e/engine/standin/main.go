// Command standin is a STAND-IN for the pulumi-random and pulumi-tls resource providers, for the
// end-to-end tests only: the Go module proxy serves neither provider's module, so the real ones
// cannot be built on a machine that reaches only the proxy. It serves Pulumi's ResourceProvider
// gRPC protocol for exactly the resources Groundwork's program creates:
//
//	random:index/randomPassword:RandomPassword  random:index/randomId:RandomId
//	tls:index/privateKey:PrivateKey             tls:index/selfSignedCert:SelfSignedCert
//
// with upstream's property names, defaults, validation, replace-on-change inputs (all but
// SelfSignedCert's earlyRenewalHours, as upstream's schema says), secret outputs and outputs
// (real randomness from crypto/rand, real keys and certificates from crypto/*). It is one binary
// installed twice: named pulumi-resource-random it is the random provider, named
// pulumi-resource-tls the tls provider. It reports the versions of the SDKs go.mod pins, so the
// engine loads it where the SDKs ask. Import (`pulumi import`, Read without state) is not
// supported. Never ship it: it is not the upstream provider.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// Versions of the SDKs go.mod pins (pulumi-random/sdk/v4, pulumi-tls/sdk/v5): the versions the
// SDKs ask the engine for, so the versions the stand-in is installed and reports as.
const (
	RandomVersion = "4.19.1"
	TLSVersion    = "5.5.1"
)

// packageOf names the package a binary serves from its file name (pulumi-resource-<package>).
func packageOf(arg0 string) (string, string, error) {
	name := strings.TrimSuffix(filepath.Base(arg0), ".exe")
	switch strings.TrimPrefix(name, "pulumi-resource-") {
	case "random":
		return "random", RandomVersion, nil
	case "tls":
		return "tls", TLSVersion, nil
	}
	return "", "", fmt.Errorf("binary %q must be named pulumi-resource-random or pulumi-resource-tls", name)
}

func main() {
	pkg, version, err := packageOf(os.Args[0])
	if err == nil {
		err = serve(pkg, version)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stand-in provider:", err)
		os.Exit(1)
	}
}

// serve is the plugin protocol of sdk/v3/go/pulumi/provider.Main (which the main module cannot
// import without adding its OpenTelemetry bridge to go.mod): listen on a free port, print it, serve
// until the engine sends SIGINT or its health check fails.
func serve(pkg, version string) error {
	kinds := randomKinds
	if pkg == "tls" {
		kinds = tlsKinds
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	var args []string // the engine's address; flags (--tracing, -v, --logtostderr) are ignored
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			args = append(args, a)
		}
	}
	if len(args) == 1 {
		if err := rpcutil.Healthcheck(ctx, args[0], 5*time.Minute, cancel); err != nil {
			return fmt.Errorf("health check of the engine at %s: %w", args[0], err)
		}
	}
	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, newServer(pkg, version, kinds()))
			return nil
		},
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d\n", handle.Port)
	return <-handle.Done
}
