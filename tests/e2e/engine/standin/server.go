package main

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// kind is one resource type the stand-in serves.
type kind struct {
	token string
	// inputs are the input properties with their defaults (a null value: no default).
	inputs map[string]resource.PropertyValue
	// updatable inputs change in place; a change of any other input replaces the resource.
	updatable []string
	// computed are the outputs the provider computes (unknown in a preview).
	computed []string
	// secret are the outputs upstream marks sensitive.
	secret []string
	// check validates inputs with defaults applied; unknown inputs are not validated.
	check func(in resource.PropertyMap) []*pulumirpc.CheckFailure
	// create makes the resource: its ID and computed outputs.
	create func(in resource.PropertyMap) (string, resource.PropertyMap, error)
	// renew names inputs-independent reasons to replace (a certificate due for renewal).
	renew func(olds, news resource.PropertyMap) []string
}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	pkg, version string
	kinds        map[string]*kind
}

func newServer(pkg, version string, kinds []*kind) *server {
	s := &server{pkg: pkg, version: version, kinds: map[string]*kind{}}
	for _, k := range kinds {
		s.kinds[k.token] = k
	}
	return s
}

var marshal = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, SkipNulls: true})
}

func (s *server) kind(urn string) (*kind, error) {
	t := string(resource.URN(urn).Type())
	if k, ok := s.kinds[t]; ok {
		return k, nil
	}
	return nil, status.Errorf(codes.InvalidArgument, "stand-in %s provider: resource type %q is not served (only %v)", s.pkg, t, s.tokens())
}

func (s *server) tokens() []string {
	var ts []string
	for t := range s.kinds {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// withDefaults returns the known inputs of in, defaults filled in where absent.
func (k *kind) withDefaults(in resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for key, def := range k.inputs {
		if v, ok := in[resource.PropertyKey(key)]; ok && !v.IsNull() {
			out[resource.PropertyKey(key)] = v
		} else if !def.IsNull() {
			out[resource.PropertyKey(key)] = def
		}
	}
	return out
}

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: s.version}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	k, err := s.kind(req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for key := range news {
		if _, ok := k.inputs[string(key)]; !ok {
			failures = append(failures, &pulumirpc.CheckFailure{Property: string(key), Reason: fmt.Sprintf("%s has no input %q", k.token, key)})
		}
	}
	failures = append(failures, k.check(reveal(resource.NewProperty(k.withDefaults(news))).ObjectValue())...)
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	k, err := s.kind(req.GetUrn())
	if err != nil {
		return nil, err
	}
	oldState, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	oldInputs := oldState // the outputs repeat the inputs; old_inputs is the better source
	if req.GetOldInputs() != nil {
		if oldInputs, err = unmarshal(req.GetOldInputs()); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, nw := k.withDefaults(oldInputs), k.withDefaults(news)
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}, HasDetailedDiff: true}
	keys := make([]string, 0, len(k.inputs))
	for key := range k.inputs {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if slices.Contains(req.GetIgnoreChanges(), key) {
			continue
		}
		o, n := olds[resource.PropertyKey(key)], nw[resource.PropertyKey(key)]
		if !n.ContainsUnknowns() && equal(o, n) {
			continue
		}
		resp.Diffs = append(resp.Diffs, key)
		d := &pulumirpc.PropertyDiff{Kind: pulumirpc.PropertyDiff_UPDATE, InputDiff: true}
		switch {
		case o.IsNull():
			d.Kind = pulumirpc.PropertyDiff_ADD
		case n.IsNull():
			d.Kind = pulumirpc.PropertyDiff_DELETE
		}
		if !slices.Contains(k.updatable, key) {
			resp.Replaces = append(resp.Replaces, key)
			d.Kind = map[pulumirpc.PropertyDiff_Kind]pulumirpc.PropertyDiff_Kind{
				pulumirpc.PropertyDiff_ADD:    pulumirpc.PropertyDiff_ADD_REPLACE,
				pulumirpc.PropertyDiff_DELETE: pulumirpc.PropertyDiff_DELETE_REPLACE,
				pulumirpc.PropertyDiff_UPDATE: pulumirpc.PropertyDiff_UPDATE_REPLACE,
			}[d.Kind]
		}
		resp.DetailedDiff[key] = d
	}
	if k.renew != nil {
		for _, key := range k.renew(oldState, nw) {
			resp.Diffs = append(resp.Diffs, key)
			resp.Replaces = append(resp.Replaces, key)
			resp.DetailedDiff[key] = &pulumirpc.PropertyDiff{Kind: pulumirpc.PropertyDiff_UPDATE_REPLACE}
		}
	}
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp, nil
}

// equal compares two values, secret or not (a value turning secret is no change), null and empty
// collections alike (upstream's keepers: an empty map is no map).
func equal(a, b resource.PropertyValue) bool {
	a, b = reveal(a), reveal(b)
	if empty(a) && empty(b) {
		return true
	}
	return a.DeepEquals(b)
}

func empty(v resource.PropertyValue) bool {
	return v.IsNull() || (v.IsObject() && len(v.ObjectValue()) == 0) || (v.IsArray() && len(v.ArrayValue()) == 0)
}

// reveal strips secret markers, deeply.
func reveal(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return reveal(v.SecretValue().Element)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = reveal(e)
		}
		return resource.NewProperty(m)
	case v.IsArray():
		a := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			a[i] = reveal(e)
		}
		return resource.NewProperty(a)
	}
	return v
}

// outputs are the inputs with defaults, then the computed values; upstream's sensitive outputs
// secret, and inputs that came in secret stay secret.
func (k *kind) outputs(in, computed resource.PropertyMap) resource.PropertyMap {
	out := k.withDefaults(in)
	for key, v := range computed {
		out[key] = v
	}
	for _, key := range k.secret {
		if v, ok := out[resource.PropertyKey(key)]; ok && !v.IsSecret() && !v.IsComputed() {
			out[resource.PropertyKey(key)] = resource.MakeSecret(v)
		}
	}
	return out
}

func (s *server) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	k, err := s.kind(req.GetUrn())
	if err != nil {
		return nil, err
	}
	in, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	var id string
	computed := resource.PropertyMap{}
	if req.GetPreview() || resource.NewProperty(in).ContainsUnknowns() {
		if !req.GetPreview() {
			return nil, fmt.Errorf("%s: unknown inputs outside a preview", k.token)
		}
		for _, key := range k.computed {
			computed[resource.PropertyKey(key)] = resource.MakeComputed(resource.NewProperty(""))
		}
	} else {
		plain := reveal(resource.NewProperty(k.withDefaults(in))).ObjectValue()
		if f := k.check(plain); len(f) > 0 {
			return nil, fmt.Errorf("%s: %s: %s", k.token, f[0].GetProperty(), f[0].GetReason())
		}
		if id, computed, err = k.create(plain); err != nil {
			return nil, fmt.Errorf("%s: %w", k.token, err)
		}
	}
	props, err := plugin.MarshalProperties(k.outputs(in, computed), marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Read returns the state it is given: the resources have nothing outside the state to read.
func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	k, err := s.kind(req.GetUrn())
	if err != nil {
		return nil, err
	}
	if len(req.GetProperties().GetFields()) == 0 {
		return nil, status.Errorf(codes.Unimplemented, "stand-in %s provider: %s cannot be imported", s.pkg, k.token)
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// Update applies the updatable inputs (Diff replaces on any other change).
func (s *server) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	k, err := s.kind(req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	nw := k.withDefaults(news)
	for _, key := range k.updatable {
		if v, ok := nw[resource.PropertyKey(key)]; ok {
			olds[resource.PropertyKey(key)] = v
		} else {
			delete(olds, resource.PropertyKey(key))
		}
	}
	props, err := plugin.MarshalProperties(olds, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Delete has nothing to delete: the resources live in the state only.
func (s *server) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// property accessors over plain (revealed, defaults applied) inputs.

func str(m resource.PropertyMap, key string) string {
	if v, ok := m[resource.PropertyKey(key)]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

func num(m resource.PropertyMap, key string) int {
	if v, ok := m[resource.PropertyKey(key)]; ok && v.IsNumber() {
		return int(v.NumberValue())
	}
	return 0
}

func boolean(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	return ok && v.IsBool() && v.BoolValue()
}

func strs(m resource.PropertyMap, key string) []string {
	v, ok := m[resource.PropertyKey(key)]
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// known reports whether key's value is known (validation skips unknown values).
func known(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	return ok && !v.ContainsUnknowns()
}

func failure(key, format string, args ...any) *pulumirpc.CheckFailure {
	return &pulumirpc.CheckFailure{Property: key, Reason: fmt.Sprintf(format, args...)}
}

var null = resource.NewNullProperty()
