package tests

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/policy/rules"
)

// optionMocks records, beside what mocks records, the resource options the policies read
// (protect), keyed by URN.
type optionMocks struct {
	*mocks
	mu      sync.Mutex
	protect map[string]bool
}

func (o *optionMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id, out, err := o.mocks.NewResource(args)
	if rpc := args.RegisterRPC; rpc != nil && rpc.GetProtect() {
		o.mu.Lock()
		o.protect[o.mocks.urn(rpc.GetParent(), args.TypeToken, args.Name)] = true
		o.mu.Unlock()
	}
	return id, out, err
}

// runForPolicy runs a program under mocks the way run does, and returns every registered
// resource as the policies see it: type, name, URN, inputs and the protect option.
// secretKeys are the config keys set as secrets.
func runForPolicy(t testing.TB, stack string, cfg map[string]string, program pulumi.RunFunc, secretKeys ...string) ([]rules.Resource, error) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(raw))
	m := &optionMocks{mocks: newMocks(stack, cfg["aws:region"]), protect: map[string]bool{}}
	// The charts' objects too, as a real preview registers them.
	m.renderer = cachedRenderer(needCharts(t))
	err = pulumi.RunErr(program, pulumi.WithMocks(project, stack, m), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
		ri.ConfigSecretKeys = secretKeys
	})
	if err != nil {
		return nil, err
	}
	out := make([]rules.Resource, 0, len(m.resources))
	for _, r := range m.resources {
		out = append(out, rules.Resource{
			URN:        r.URN,
			Type:       r.Type,
			Name:       r.Name,
			Properties: resource.FromResourcePropertyMap(r.Inputs),
			Protect:    m.protect[r.URN],
		})
	}
	return out, nil
}
