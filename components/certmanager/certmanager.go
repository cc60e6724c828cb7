// Package certmanager installs cert-manager from the Jetstack chart and issues the public
// edge's certificate with it: an Issuer (ACME with an HTTP-01 or DNS-01 solver, or self-signed)
// and a Certificate whose Secret the ingress gateway serves.
package certmanager

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
)

// Version is the cert-manager release the chart and its images track: cert-manager v1.21.2
// (the chart's version and appVersion are the release's tag).
const Version = "v1.21.2"

// Chart is the Jetstack chart of cert-manager.
var Chart = chart.Spec{Name: "cert-manager", Version: Version, Repo: "https://charts.jetstack.io"}

// Charts lists every chart the component installs.
var Charts = []chart.Spec{Chart}

// upstreamRegistry is where cert-manager publishes its images (quay.io/jetstack/...): the
// chart composes imageRegistry/imageNamespace/image.name.
const upstreamRegistry = "quay.io"

// Let's Encrypt's ACME directories (https://letsencrypt.org/docs/acme-protocol-updates/).
const (
	LetsEncrypt        = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// IngressClass is the class of the Ingresses cert-manager's HTTP-01 solver creates: Istio's
// own Ingress controller serves them on the ingress gateway (istio.io/ingress-controller).
const IngressClass = "istio"

// istioIngressController is the controller name Istio claims IngressClasses by
// (https://istio.io/latest/docs/tasks/traffic-management/ingress/kubernetes-ingress/).
const istioIngressController = "istio.io/ingress-controller"

// Args configures cert-manager.
type Args struct {
	// Namespace holds cert-manager's controller, webhook and CA injector.
	Namespace string
	Charts    chart.Source
	// ImageMirror replaces quay.io for cert-manager's images. Optional.
	ImageMirror string
	// HA runs two replicas of each deployment with a disruption budget, spread over Zones.
	HA    bool
	Zones []string
	// Labels go on every object the component creates (ownership labels).
	Labels map[string]string
	// After are resources every object waits for, e.g. its namespace.
	After []pulumi.Resource
	// AmbientRoleARN is an IAM role the controller's service account assumes (IRSA,
	// infra.RoleAnnotation), for Route53 DNS-01 without static keys. Optional.
	AmbientRoleARN pulumi.StringInput
}

func (a Args) validate() error {
	if a.Namespace == "" {
		return errors.New("cert-manager: Namespace is required")
	}
	return nil
}

// CertManager is the installed cert-manager.
type CertManager struct {
	pulumi.ResourceState

	chart  *chart.Chart
	labels map[string]string
}

// New installs cert-manager with its CRDs. Kubernetes objects go to the provider given in opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*CertManager, error) {
	if err := args.validate(); err != nil {
		return nil, err
	}
	cm := &CertManager{labels: args.Labels}
	if err := ctx.RegisterComponentResource("groundwork:platform:CertManager", name, cm, opts...); err != nil {
		return nil, err
	}
	replicas := 1
	if args.HA {
		// The controller and CA injector elect a leader: a second replica takes over at once.
		replicas = 2
	}
	resources := func(cpu, memory, cpuLimit, memoryLimit string) pulumi.Map {
		return pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String(cpu), "memory": pulumi.String(memory)},
			"limits":   pulumi.Map{"cpu": pulumi.String(cpuLimit), "memory": pulumi.String(memoryLimit)},
		}
	}
	// Per deployment: replicas, a budget where there are two, resources and a zone spread. The
	// chart's default security contexts already run every container non-root, read-only, with
	// no capabilities and the runtime's seccomp profile (values.yaml securityContext and
	// containerSecurityContext).
	part := func(component string, res pulumi.Map) pulumi.Map {
		v := pulumi.Map{
			"replicaCount":        pulumi.Int(replicas),
			"podDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(replicas >= 2), "minAvailable": pulumi.Int(1)},
			"resources":           res,
		}
		if len(args.Zones) > 1 {
			v["topologySpreadConstraints"] = pulumi.Array{pulumi.Map{
				"maxSkew": pulumi.Int(1), "topologyKey": pulumi.String("topology.kubernetes.io/zone"),
				"whenUnsatisfiable": pulumi.String("ScheduleAnyway"),
				"labelSelector": pulumi.Map{"matchLabels": pulumi.StringMap{
					"app.kubernetes.io/instance": pulumi.String(name), "app.kubernetes.io/component": pulumi.String(component),
				}},
			}}
		}
		return v
	}
	values := part("controller", resources("50m", "128Mi", "500m", "512Mi"))
	values["crds"] = pulumi.Map{"enabled": pulumi.Bool(true), "keep": pulumi.Bool(true)}
	values["imageRegistry"] = pulumi.String(chart.Registry(args.ImageMirror, upstreamRegistry))
	values["imageNamespace"] = pulumi.String("jetstack")
	values["global"] = pulumi.Map{
		// Leases in cert-manager's own namespace rather than kube-system.
		"leaderElection": pulumi.Map{"namespace": pulumi.String(args.Namespace)},
	}
	values["webhook"] = part("webhook", resources("20m", "64Mi", "250m", "128Mi"))
	values["cainjector"] = part("cainjector", resources("20m", "128Mi", "250m", "512Mi"))
	// A post-install hook Job that only waits for the webhook; rendered as a plain object on
	// the client it would run on every change of the release.
	values["startupapicheck"] = pulumi.Map{"enabled": pulumi.Bool(false)}
	if args.AmbientRoleARN != nil {
		values["serviceAccount"] = pulumi.Map{"annotations": pulumi.Map{roleAnnotation: args.AmbientRoleARN}}
		// cert-manager hands its own (ambient) AWS credentials to ClusterIssuers only, unless
		// told to for Issuers too; the edge's Issuer is namespaced
		// (https://cert-manager.io/docs/configuration/acme/dns01/route53/, "ambient credentials").
		values["extraArgs"] = pulumi.StringArray{pulumi.String("--issuer-ambient-credentials=true")}
	}
	c, err := chart.Install(ctx, name, Chart, args.Charts, chart.Args{Release: name, Namespace: args.Namespace, Values: values, Labels: args.Labels},
		pulumi.Parent(cm), chart.DependsOn(args.After))
	if err != nil {
		return nil, err
	}
	cm.chart = c
	return cm, ctx.RegisterResourceOutputs(cm, pulumi.Map{})
}

// Ready are what cert-manager's custom resources wait for: the chart, with the CRDs and the
// webhook that validates them.
func (cm *CertManager) Ready() []pulumi.Resource { return []pulumi.Resource{cm.chart} }

// Issuer says how the certificate is issued: exactly one of SelfSigned and ACME.
type Issuer struct {
	SelfSigned bool
	ACME       *ACME
}

// ACME is an ACME account (Let's Encrypt by default) and how it proves control of the domain.
type ACME struct {
	// Server is the ACME directory URL.
	Server string
	// Email receives expiry and account notices.
	Email string
	// HTTP01 answers challenges on port 80 through the ingress gateway.
	HTTP01 bool
	// DNS01 answers challenges with TXT records at a DNS provider.
	DNS01 *DNS01
}

// DNS01 is the DNS provider that holds the domain's zone.
type DNS01 struct {
	// CloudflareAPIToken is a Cloudflare API token with Zone:DNS:Edit on the zone (a secret).
	CloudflareAPIToken pulumi.StringInput
	// Route53 is the alternative: a hosted zone cert-manager changes with the controller's
	// ambient credentials (Args.AmbientRoleARN).
	Route53 *Route53
}

// Route53 is an AWS Route53 hosted zone, and the region of the AWS API client.
type Route53 struct {
	HostedZoneID, Region string
}

// roleAnnotation makes a pod assume an IAM role (IRSA); infra.RoleAnnotation.
const roleAnnotation = "eks.amazonaws.com/role-arn"

// CertificateArgs is the edge certificate.
type CertificateArgs struct {
	// Namespace holds the Issuer, the Certificate and its Secret: the ingress gateway's, as the
	// gateway reads credentialName Secrets from its own namespace.
	Namespace string
	// SecretName is the Secret the certificate and key are written to.
	SecretName string
	// DNSNames are the names the certificate covers.
	DNSNames []string
	Issuer   Issuer
	// After are resources the objects wait for besides cert-manager (the namespace).
	After []pulumi.Resource
}

func (a CertificateArgs) validate() error {
	var errs []error
	if a.Namespace == "" || a.SecretName == "" || len(a.DNSNames) == 0 {
		errs = append(errs, errors.New("certificate: Namespace, SecretName and DNSNames are required"))
	}
	switch i := a.Issuer; {
	case i.SelfSigned == (i.ACME != nil):
		errs = append(errs, errors.New("certificate: the issuer is either self-signed or ACME"))
	case i.ACME != nil:
		if i.ACME.Server == "" || i.ACME.Email == "" {
			errs = append(errs, errors.New("certificate: ACME needs a server and an e-mail"))
		}
		if i.ACME.HTTP01 == (i.ACME.DNS01 != nil) {
			errs = append(errs, errors.New("certificate: ACME needs exactly one of HTTP-01 and DNS-01"))
		}
		if d := i.ACME.DNS01; d != nil && (d.CloudflareAPIToken == nil) == (d.Route53 == nil) {
			errs = append(errs, errors.New("certificate: DNS-01 needs the Cloudflare API token or a Route53 zone"))
		}
	}
	return errors.Join(errs...)
}

// Certificate issues a certificate for the public edge: an Issuer in the gateway's namespace
// and a Certificate cert-manager keeps renewed in SecretName. Names are those of the objects.
func (cm *CertManager) Certificate(ctx *pulumi.Context, name string, args CertificateArgs) error {
	if err := args.validate(); err != nil {
		return err
	}
	after := chart.DependsOn(append(cm.Ready(), args.After...))
	parent := pulumi.Parent(cm)
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: pulumi.String(args.Namespace), Labels: pulumi.ToStringMap(cm.labels)}
	}
	var spec pulumi.Map
	var issuerDeps []pulumi.Resource
	if args.Issuer.SelfSigned {
		spec = pulumi.Map{"selfSigned": pulumi.Map{}}
	} else {
		a := args.Issuer.ACME
		var solver pulumi.Map
		if a.HTTP01 {
			// The solver's Ingress is served by Istio's Ingress controller on the ingress gateway,
			// which claims the class by its controller name
			// (https://cert-manager.io/docs/configuration/acme/http01/#ingressclassname).
			if _, err := networkingv1.NewIngressClass(ctx, name+"-ingress-class", &networkingv1.IngressClassArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(IngressClass), Labels: pulumi.ToStringMap(cm.labels)},
				Spec:     &networkingv1.IngressClassSpecArgs{Controller: pulumi.String(istioIngressController)},
			}, parent, after); err != nil {
				return err
			}
			solver = pulumi.Map{"http01": pulumi.Map{"ingress": pulumi.Map{"ingressClassName": pulumi.String(IngressClass)}}}
		} else if r := a.DNS01.Route53; r != nil {
			// No credentials: the controller's own, from its service account's IAM role.
			solver = pulumi.Map{"dns01": pulumi.Map{"route53": pulumi.Map{
				"hostedZoneID": pulumi.String(r.HostedZoneID), "region": pulumi.String(r.Region),
			}}}
		} else {
			secret, err := corev1.NewSecret(ctx, name+"-dns01", &corev1.SecretArgs{
				Metadata:   meta(name + "-dns01"),
				Type:       pulumi.String("Opaque"),
				StringData: pulumi.StringMap{"api-token": pulumi.ToSecret(a.DNS01.CloudflareAPIToken).(pulumi.StringOutput)},
			}, parent, after)
			if err != nil {
				return err
			}
			issuerDeps = append(issuerDeps, secret)
			solver = pulumi.Map{"dns01": pulumi.Map{"cloudflare": pulumi.Map{"apiTokenSecretRef": pulumi.Map{
				"name": pulumi.String(name + "-dns01"), "key": pulumi.String("api-token"),
			}}}}
		}
		solver["selector"] = pulumi.Map{"dnsNames": pulumi.ToStringArray(args.DNSNames)}
		spec = pulumi.Map{"acme": pulumi.Map{
			"server": pulumi.String(a.Server),
			"email":  pulumi.String(a.Email),
			// cert-manager makes the account key and keeps it in this Secret.
			"privateKeySecretRef": pulumi.Map{"name": pulumi.String(name + "-acme-account")},
			"solvers":             pulumi.Array{solver},
		}}
	}
	issuer, err := apiextensions.NewCustomResource(ctx, name+"-issuer", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("cert-manager.io/v1"),
		Kind:        pulumi.String("Issuer"),
		Metadata:    meta(name),
		OtherFields: map[string]any{"spec": spec},
	}, parent, after, pulumi.DependsOn(issuerDeps))
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	if _, err := apiextensions.NewCustomResource(ctx, name+"-certificate", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("cert-manager.io/v1"),
		Kind:       pulumi.String("Certificate"),
		Metadata:   meta(name),
		OtherFields: map[string]any{"spec": pulumi.Map{
			"secretName": pulumi.String(args.SecretName),
			"commonName": pulumi.String(args.DNSNames[0]),
			"dnsNames":   pulumi.ToStringArray(args.DNSNames),
			"issuerRef":  pulumi.Map{"group": pulumi.String("cert-manager.io"), "kind": pulumi.String("Issuer"), "name": pulumi.String(name)},
			"usages":     pulumi.ToStringArray([]string{"server auth", "digital signature", "key encipherment"}),
			// A fresh key at every renewal; ECDSA P-256, which every current client speaks.
			// cert-manager renews with a third of the lifetime left (30 of Let's Encrypt's 90 days).
			"privateKey": pulumi.Map{"algorithm": pulumi.String("ECDSA"), "size": pulumi.Int(256), "rotationPolicy": pulumi.String("Always")},
		}},
	}, parent, after, pulumi.DependsOn([]pulumi.Resource{issuer})); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	return nil
}

// APIVersions are the custom resources cert-manager's chart installs, as group/version/Kind:
// charts are rendered knowing they exist (chart.Source.For). The render test checks the list
// against the CRDs the chart ships.
var APIVersions = []string{
	"acme.cert-manager.io/v1/Challenge",
	"acme.cert-manager.io/v1/Order",
	"cert-manager.io/v1/Certificate",
	"cert-manager.io/v1/CertificateRequest",
	"cert-manager.io/v1/ClusterIssuer",
	"cert-manager.io/v1/Issuer",
}

// Domain reports whether s is a DNS name a public certificate can be issued for: two labels or
// more, lower case, no wildcard.
func Domain(s string) bool {
	if len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
