package observability

import (
	"net/url"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/infra"
)

// Buckets the component asks the base layer for, and the service accounts that use them.
const (
	TracesBucket        = "traces"
	LogsBucket          = "logs"
	TempoServiceAccount = "tempo"
	LokiServiceAccount  = "loki"
)

// bucketAccess is how a chart's pods reach a bucket: a role on their service account (AWS), or
// keys from a Secret the pods read as the standard AWS variables, expanded into the config.
type bucketAccess struct {
	// host is the endpoint without its scheme, as Loki and Tempo take it; insecure is plain HTTP.
	host     string
	insecure bool
	// annotations go on the chart's service account.
	annotations pulumi.StringMapInput
	// envFrom loads the keys; args make the binary expand ${AWS_ACCESS_KEY_ID} in its config.
	envFrom pulumi.Array
	args    pulumi.StringArray
	keys    bool
	// secret holds the keys; the chart waits for it.
	secret pulumi.Resource
}

// after makes a chart wait for the Secret with the keys, where there is one.
func (a *bucketAccess) after() pulumi.ResourceOption {
	if a.secret == nil {
		return pulumi.Composite()
	}
	return chart.DependsOn([]pulumi.Resource{a.secret})
}

// accessFor creates what a chart needs to reach store: with keys, a Secret secretName holding
// them (they stay secrets in state).
func accessFor(ctx *pulumi.Context, name, namespace, secretName string, store *infra.ObjectStore, labels map[string]string, opts ...pulumi.ResourceOption) (*bucketAccess, error) {
	u, err := url.Parse(store.Endpoint)
	if err != nil {
		return nil, err
	}
	a := &bucketAccess{host: u.Host, insecure: u.Scheme == "http", annotations: pulumi.StringMap{}}
	if store.RoleARN != nil {
		a.annotations = pulumi.StringMap{infra.RoleAnnotation: *store.RoleARN}
		return a, nil
	}
	secret, err := corev1.NewSecret(ctx, name, &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(secretName), Namespace: pulumi.String(namespace), Labels: pulumi.ToStringMap(labels)},
		Type:     pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			"AWS_ACCESS_KEY_ID":     store.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY": store.SecretAccessKey,
		},
	}, opts...)
	if err != nil {
		return nil, err
	}
	a.keys, a.secret = true, secret
	a.envFrom = pulumi.Array{pulumi.Map{"secretRef": pulumi.Map{"name": pulumi.String(secretName)}}}
	a.args = pulumi.StringArray{pulumi.String("-config.expand-env=true")}
	return a, nil
}

// component returns the per-component settings that give a chart's pods the keys: envFrom and
// the expand-env flag, on top of extra.
func (a *bucketAccess) component(extra pulumi.Map) pulumi.Map {
	if a.keys {
		extra["extraEnvFrom"] = a.envFrom
		extra["extraArgs"] = a.args
	}
	return extra
}
