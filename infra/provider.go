package infra

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProviderArgs says how the cluster's Kubernetes provider reaches the cluster.
type ProviderArgs struct {
	// Kubeconfig is a secret kubeconfig. Ignored in render mode.
	Kubeconfig pulumi.StringInput
	// Context is the kubeconfig context. Optional: the current context.
	Context string
	// RenderTo, when set, makes the provider write every Kubernetes object as YAML into this
	// folder instead of applying it (GitOps). No cluster is contacted.
	RenderTo string
}

// NewProvider creates the Kubernetes provider every platform object is created with.
func NewProvider(ctx *pulumi.Context, name string, args ProviderArgs, opts ...pulumi.ResourceOption) (*kubernetes.Provider, error) {
	pa := &kubernetes.ProviderArgs{EnableServerSideApply: pulumi.Bool(true)}
	if args.RenderTo != "" {
		// The provider refuses a kubeconfig together with a render folder.
		pa.RenderYamlToDirectory = pulumi.String(args.RenderTo)
	} else {
		pa.Kubeconfig = args.Kubeconfig
		if args.Context != "" {
			pa.Context = pulumi.String(args.Context)
		}
	}
	return kubernetes.NewProvider(ctx, name, pa, opts...)
}
