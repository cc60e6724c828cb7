package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/groundwork/groundwork/policy/rules"
)

// These tests build the pack and talk to it over the analyzer protocol the way the Pulumi
// engine does: handshake, stack configuration, policy config from a config file, then Analyze
// per resource and AnalyzeStack.

var levels = map[rules.Level]pulumirpc.EnforcementLevel{
	rules.Advisory:  pulumirpc.EnforcementLevel_ADVISORY,
	rules.Mandatory: pulumirpc.EnforcementLevel_MANDATORY,
	rules.Disabled:  pulumirpc.EnforcementLevel_DISABLED,
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		_ = os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// buildPack builds the pack once for all tests, as the Go language host builds it.
func buildPack(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "groundwork-policy")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "groundwork-policy")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}

// startPack builds and starts the pack, returning a client connected to it.
func startPack(t *testing.T, env ...string) pulumirpc.AnalyzerClient {
	t.Helper()
	bin := buildPack(t)

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	port, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := pulumirpc.NewAnalyzerClient(conn)

	ctx := testContext(t)
	root := "."
	_, err = client.Handshake(ctx, &pulumirpc.AnalyzerHandshakeRequest{RootDirectory: &root, ProgramDirectory: &root})
	require.NoError(t, err)
	_, err = client.ConfigureStack(ctx, &pulumirpc.AnalyzerStackConfigureRequest{
		Stack: "prod", Project: "groundwork", DryRun: true, Config: map[string]string{"groundwork:environment": "prod"},
	})
	require.NoError(t, err)
	return client
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// configure sends a config file's policy config as the engine does: every policy with its
// resolved level and its schema defaults overlaid by the file's settings.
func configure(t *testing.T, client pulumirpc.AnalyzerClient, file string) {
	t.Helper()
	resolved, err := rules.LoadConfigFile(file)
	require.NoError(t, err)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(data, &raw))

	req := &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: map[string]*pulumirpc.PolicyConfig{}}
	for _, p := range rules.Policies() {
		props := map[string]any{}
		for k, s := range p.Schema() {
			props[k] = s["default"]
		}
		if entry, ok := raw[p.Name].(map[string]any); ok {
			for k, v := range entry {
				if k != "enforcementLevel" {
					props[k] = v
				}
			}
		}
		st, err := structpb.NewStruct(props)
		require.NoError(t, err)
		req.PolicyConfig[p.Name] = &pulumirpc.PolicyConfig{EnforcementLevel: levels[resolved[p.Name].Level], Properties: st}
	}
	_, err = client.Configure(testContext(t), req)
	require.NoError(t, err)
}

func marshal(t *testing.T, props map[string]any) *structpb.Struct {
	t.Helper()
	st, err := plugin.MarshalProperties(resource.NewPropertyMapFromMap(props), plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	require.NoError(t, err)
	return st
}

func deployment(image any, privileged bool) map[string]any {
	return map[string]any{
		"metadata": map[string]any{"name": "orders", "namespace": "shop"},
		"spec": map[string]any{
			"replicas": 3,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "orders"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "orders"}},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "app", "image": image,
					"securityContext": map[string]any{"privileged": privileged},
				}}},
			},
		},
	}
}

const deploymentURN = "urn:pulumi:prod::groundwork::kubernetes:apps/v1:Deployment::orders"

func analyze(t *testing.T, client pulumirpc.AnalyzerClient, props map[string]any) map[string]*pulumirpc.AnalyzeDiagnostic {
	t.Helper()
	resp, err := client.Analyze(testContext(t), &pulumirpc.AnalyzeRequest{
		Type: "kubernetes:apps/v1:Deployment", Name: "orders", Urn: deploymentURN, Properties: marshal(t, props),
	})
	require.NoError(t, err)
	out := map[string]*pulumirpc.AnalyzeDiagnostic{}
	for _, d := range resp.GetDiagnostics() {
		out[d.GetPolicyName()] = d
	}
	return out
}

func TestServedPackListsEveryPolicy(t *testing.T) {
	client := startPack(t)
	info, err := client.GetAnalyzerInfo(testContext(t), &emptypb.Empty{})
	require.NoError(t, err)
	assert.Equal(t, rules.PackName, info.GetName())
	assert.True(t, info.GetSupportsConfig())
	byName := map[string]*pulumirpc.PolicyInfo{}
	for _, p := range info.GetPolicies() {
		byName[p.GetName()] = p
	}
	for _, p := range rules.Policies() {
		got, ok := byName[p.Name]
		if assert.Truef(t, ok, "%s not served", p.Name) {
			assert.Equal(t, p.FullDescription(), got.GetDescription())
			assert.Equal(t, levels[p.Level], got.GetEnforcementLevel())
			assert.Contains(t, got.GetConfigSchema().GetProperties().AsMap(), "exemptNames")
		}
	}
}

func TestServedPackEnforcesProdConfig(t *testing.T) {
	client := startPack(t)
	configure(t, client, "config.prod.json")

	got := analyze(t, client, deployment("nginx:latest", true))
	for _, policy := range []string{"container-security-context", "image-pinned", "workload-probes", "workload-resources", "required-tags"} {
		d, ok := got[policy]
		if assert.Truef(t, ok, "%s did not report; got %v", policy, got) {
			assert.Equal(t, pulumirpc.EnforcementLevel_MANDATORY, d.GetEnforcementLevel(), policy)
			assert.Equal(t, deploymentURN, d.GetUrn())
			assert.Contains(t, d.GetMessage(), `Deployment "shop/orders" (resource "orders")`)
			assert.Contains(t, d.GetMessage(), "Fix: ")
		}
	}
	assert.Contains(t, got["container-security-context"].GetMessage(), "is privileged")
}

func TestServedPackIsAdvisoryInDev(t *testing.T) {
	client := startPack(t)
	configure(t, client, "config.dev.json")
	got := analyze(t, client, deployment("nginx:latest", true))
	require.NotEmpty(t, got)
	for name, d := range got {
		assert.Equal(t, pulumirpc.EnforcementLevel_ADVISORY, d.GetEnforcementLevel(), name)
	}
}

// In a preview the image of a service built by the program is not known yet: no verdict, no error.
func TestServedPackSkipsUnknownValues(t *testing.T) {
	client := startPack(t)
	configure(t, client, "config.prod.json")
	got := analyze(t, client, deployment(resource.MakeComputed(resource.NewStringProperty("")), false))
	assert.NotContains(t, got, "image-pinned")
	assert.Contains(t, got, "workload-probes", "known values are still checked")
}

func TestServedPackRejectsUnknownSettings(t *testing.T) {
	client := startPack(t)
	st, err := structpb.NewStruct(map[string]any{"minReplica": 2})
	require.NoError(t, err)
	_, err = client.Configure(testContext(t), &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: map[string]*pulumirpc.PolicyConfig{
		"workload-replicas": {EnforcementLevel: pulumirpc.EnforcementLevel_MANDATORY, Properties: st},
	}})
	require.NoError(t, err)
	_, err = client.Analyze(testContext(t), &pulumirpc.AnalyzeRequest{
		Type: "kubernetes:apps/v1:Deployment", Name: "orders", Urn: deploymentURN, Properties: marshal(t, deployment("x:1", false)),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown setting "minReplica"`)
}

func analyzeStack(t *testing.T, client pulumirpc.AnalyzerClient) []*pulumirpc.AnalyzeDiagnostic {
	resp, err := client.AnalyzeStack(testContext(t), &pulumirpc.AnalyzeStackRequest{Resources: []*pulumirpc.AnalyzerResource{{
		Type: "kubernetes:apps/v1:Deployment", Name: "orders", Urn: deploymentURN, Properties: marshal(t, deployment("x:1", false)),
	}}})
	require.NoError(t, err)
	return resp.GetDiagnostics()
}

func TestServedPackRunsStackPolicies(t *testing.T) {
	client := startPack(t)
	configure(t, client, "config.prod.json")
	var names []string
	for _, d := range analyzeStack(t, client) {
		names = append(names, d.GetPolicyName())
		assert.Equal(t, pulumirpc.EnforcementLevel_MANDATORY, d.GetEnforcementLevel())
		assert.Equal(t, deploymentURN, d.GetUrn())
	}
	assert.ElementsMatch(t, []string{"stack-deployment-companions", "namespace-default-deny", "namespace-network-policy"}, names)
}

// Stack policies read their settings from the file GROUNDWORK_POLICY_CONFIG names.
func TestServedStackPoliciesReadTheConfigFileFromTheEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"all": "mandatory", "stack-deployment-companions": {"exemptNamespaces": ["shop"]}}`), 0o644))
	client := startPack(t, rules.ConfigEnv+"="+file)
	configure(t, client, file)
	for _, d := range analyzeStack(t, client) {
		assert.NotEqual(t, "stack-deployment-companions", d.GetPolicyName())
	}
}
