package tests

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/policy/rules"
)

// Helpers shared by the data store component tests (kafka, postgres, redis).

const chartType = chart.ChartType

// runComponent runs one component under mocks with a Kubernetes provider named "k8s" that the
// program passes on, and returns what was recorded.
func runComponent(t *testing.T, build func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error) (*mocks, error) {
	t.Helper()
	return run(t, "dev", map[string]string{"aws:region": "eu-west-1"}, nil, func(ctx *pulumi.Context) error {
		p, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		return build(ctx, pulumi.Providers(p))
	})
}

// mustRunComponent is runComponent for args that must be valid.
func mustRunComponent(t *testing.T, build func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error) *mocks {
	t.Helper()
	m, err := runComponent(t, build)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dependsOn says whether r lists the resource of the given type and name among its dependencies.
// A dependency on a component is one on its children: a chart's rendered objects stand for it.
func (m *mocks) dependsOn(r Recorded, typ, name string) bool {
	for _, d := range r.Deps {
		u := resource.URN(d)
		if string(u.Type()) == typ && u.Name() == name {
			return true
		}
	}
	for _, x := range m.resources {
		if x.Type == typ && x.Name == name {
			return m.waitsFor(r, x)
		}
	}
	return false
}

// programObjects are the Kubernetes objects the program writes itself: not those a chart renders
// (the render test checks those against the chart's own schemas).
func (m *mocks) programObjects() []Recorded {
	var out []Recorded
	for _, r := range m.kubernetesObjects() {
		if !rules.RenderedByChart(r.URN) {
			out = append(out, r)
		}
	}
	return out
}

// kubernetesObjects are the recorded objects applied through the Kubernetes provider (not
// charts, not the provider itself).
func (m *mocks) kubernetesObjects() []Recorded {
	var out []Recorded
	for _, r := range m.resources {
		if strings.HasPrefix(r.Type, "kubernetes:") && r.Type != chartType && r.Custom {
			out = append(out, r)
		}
	}
	return out
}

// strictDecode decodes a recorded Kubernetes object into its k8s.io/api type, rejecting any field
// the type does not have.
func strictDecode(t *testing.T, r Recorded, into any) {
	t.Helper()
	strictDecodeValue(t, r.Type+" "+r.Name, plain(r.Inputs), into)
}

func strictDecodeValue(t *testing.T, what string, v any, into any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Errorf("%s is not a valid %T: %v", what, into, err)
	}
}

// secretStrings are the values every random password resolved to.
func (m *mocks) secretStrings(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range m.ofType("random:index/randomPassword:RandomPassword") {
		if v := r.Outputs["result"]; v.IsString() && len(v.StringValue()) >= 16 {
			out = append(out, v.StringValue())
		}
	}
	if len(out) == 0 {
		t.Fatal("no generated password recorded")
	}
	return out
}

// assertNoPlaintext fails where any recorded input holds one of the secrets outside a Pulumi
// secret: what would land in the state, the preview or a log in clear.
func assertNoPlaintext(t *testing.T, m *mocks, secrets []string) {
	t.Helper()
	var walk func(path string, v resource.PropertyValue, r Recorded)
	walk = func(path string, v resource.PropertyValue, r Recorded) {
		switch {
		case v.IsSecret():
			return
		case v.IsObject():
			for k, e := range v.ObjectValue() {
				walk(path+"."+string(k), e, r)
			}
		case v.IsArray():
			for _, e := range v.ArrayValue() {
				walk(path+"[]", e, r)
			}
		case v.IsString():
			if slices.ContainsFunc(secrets, func(s string) bool { return strings.Contains(v.StringValue(), s) }) {
				t.Errorf("%s %s: %s holds a password in plaintext", r.Type, r.Name, path)
			}
		}
	}
	for _, r := range m.resources {
		walk("inputs", resource.NewObjectProperty(r.Inputs), r)
	}
}

// inputIsSecret says whether the input at the dotted path is a Pulumi secret.
func inputIsSecret(pm resource.PropertyMap, path string) bool {
	parts := strings.Split(path, ".")
	v := resource.NewObjectProperty(pm)
	for _, p := range parts {
		if v.IsSecret() {
			return true
		}
		if !v.IsObject() {
			return false
		}
		v = v.ObjectValue()[resource.PropertyKey(p)]
	}
	return v.IsSecret()
}

func propNum(v resource.PropertyValue) float64 {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsNumber() {
		return v.NumberValue()
	}
	return -1
}

func propStr(v resource.PropertyValue) string {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// awaitOutput resolves an output the program produced.
func awaitOutput(t *testing.T, o pulumi.Output) internals.UnsafeAwaitOutputResult {
	t.Helper()
	r, err := internals.UnsafeAwaitOutput(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
