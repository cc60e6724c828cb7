package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/mod/modfile"
)

// TestMain runs the tests from the repository root, as `pulumi up` runs the program (Stack
// refuses platform.Run from elsewhere).
func TestMain(m *testing.M) {
	if err := os.Chdir(RepoRoot()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestEngineSmoke runs a real engine end to end with the three plugins build.sh makes: one
// random password, one private key and a ConfigMap the kubernetes provider renders to a folder
// (no cluster needed). up, then a preview without changes, then destroy; the password stays a
// secret in the state.
func TestEngineSmoke(t *testing.T) {
	e := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	render, state := t.TempDir(), t.TempDir()
	program := func(ctx *pulumi.Context) error {
		pw, err := random.NewRandomPassword(ctx, "smoke", &random.RandomPasswordArgs{Length: pulumi.Int(24), Special: pulumi.Bool(false)})
		if err != nil {
			return err
		}
		key, err := tls.NewPrivateKey(ctx, "smoke", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P256")})
		if err != nil {
			return err
		}
		k8s, err := kubernetes.NewProvider(ctx, "render", &kubernetes.ProviderArgs{RenderYamlToDirectory: pulumi.String(render)})
		if err != nil {
			return err
		}
		_, err = corev1.NewConfigMap(ctx, "smoke", &corev1.ConfigMapArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("smoke"), Namespace: pulumi.String("default")},
			Data:     pulumi.StringMap{"publicKeyPem": key.PublicKeyPem},
		}, pulumi.Provider(k8s))
		if err != nil {
			return err
		}
		ctx.Export("password", pw.Result)
		ctx.Export("privateKeyPem", key.PrivateKeyPem)
		ctx.Export("publicKeyPem", key.PublicKeyPem)
		return nil
	}
	stack, err := e.Stack(ctx, t, Options{Stack: "smoke", Program: program, StateDir: state, BareProject: true})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	up, err := stack.Up(ctx, optup.ProgressStreams(testWriter{t}))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Logf("up: %s, %v", time.Since(start).Round(time.Millisecond), up.Summary.ResourceChanges)
	pw, key := up.Outputs["password"], up.Outputs["privateKeyPem"]
	if !pw.Secret || !key.Secret || up.Outputs["publicKeyPem"].Secret {
		t.Errorf("secret outputs: password %v, privateKeyPem %v, publicKeyPem %v (want true, true, false)", pw.Secret, key.Secret, up.Outputs["publicKeyPem"].Secret)
	}
	password, _ := pw.Value.(string)
	if !regexp.MustCompile(`^[A-Za-z0-9]{24}$`).MatchString(password) {
		t.Errorf("password %q: want 24 letters and digits", password)
	}
	publicKey, _ := up.Outputs["publicKeyPem"].Value.(string)
	if !strings.HasPrefix(publicKey, "-----BEGIN PUBLIC KEY-----") {
		t.Errorf("publicKeyPem %q", publicKey)
	}
	rendered := readTree(t, render)
	if !strings.Contains(rendered, "kind: ConfigMap") || !strings.Contains(rendered, "BEGIN PUBLIC KEY") {
		t.Errorf("rendered manifests hold no ConfigMap with the public key:\n%s", rendered)
	}

	// The state: the password and the private key only as ciphertext.
	saved := readTree(t, state)
	if !strings.Contains(saved, "random:index/randomPassword:RandomPassword") {
		t.Fatalf("no password in the state under %s", state)
	}
	if strings.Contains(saved, password) {
		t.Error("the password is in the state in plaintext")
	}
	if keyPEM, _ := key.Value.(string); strings.Contains(saved, strings.TrimSpace(strings.Split(keyPEM, "\n")[1])) {
		t.Error("the private key is in the state in plaintext")
	}

	start = time.Now()
	pre, err := stack.Preview(ctx, optpreview.ExpectNoChanges())
	if err != nil {
		t.Fatalf("second preview: %v", err)
	}
	t.Logf("preview: %s, %v", time.Since(start).Round(time.Millisecond), pre.ChangeSummary)
	for op, n := range pre.ChangeSummary {
		if op != apitype.OpSame && n > 0 {
			t.Errorf("second preview: %d %s, want no changes", n, op)
		}
	}

	start = time.Now()
	if _, err := stack.Destroy(ctx, optdestroy.ProgressStreams(testWriter{t})); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	t.Logf("destroy: %s", time.Since(start).Round(time.Millisecond))
	if rendered := readTree(t, render); strings.Contains(rendered, "kind: ConfigMap") {
		t.Errorf("destroy left the rendered ConfigMap:\n%s", rendered)
	}
	if err := stack.Workspace().RemoveStack(ctx, stack.Name()); err != nil {
		t.Error(err)
	}
}

// TestSetStackFileConfig: a stack file's configuration reaches the stack as `pulumi up` would read
// it (objects as objects), overrides on top, by key or by path.
func TestSetStackFileConfig(t *testing.T) {
	checkStackFileConfig(t, Require(t))
}

func checkStackFileConfig(t *testing.T, e *Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stack, err := e.Stack(ctx, t, Options{Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	err = SetStackFileConfig(ctx, stack, filepath.Join(RepoRoot(), "Pulumi.dev.yaml"), map[string]auto.ConfigValue{
		"groundwork:cloud":                 {Value: "existing"},
		"groundwork:kubernetes.renderTo":   {Value: "/tmp/rendered"},
		"groundwork:registry.password":     {Value: "hunter2", Secret: true},
		"groundwork:existing.storageClass": {Value: "fast"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stack.GetAllConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"groundwork:cloud":       "existing",
		"groundwork:environment": "dev",
		"aws:region":             "eu-west-1",
	} {
		if got := cfg[key].Value; got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	var k8s struct{ Version, RenderTo string }
	if err := json.Unmarshal([]byte(cfg["groundwork:kubernetes"].Value), &k8s); err != nil || k8s.Version != "1.34.2" || k8s.RenderTo != "/tmp/rendered" {
		t.Errorf("groundwork:kubernetes = %s (%v): want the stack file's version and the override's renderTo", cfg["groundwork:kubernetes"].Value, err)
	}
	var nodeGroups []map[string]any
	if err := json.Unmarshal([]byte(cfg["groundwork:nodeGroups"].Value), &nodeGroups); err != nil || len(nodeGroups) != 1 || nodeGroups[0]["name"] != "general" {
		t.Errorf("groundwork:nodeGroups = %s (%v)", cfg["groundwork:nodeGroups"].Value, err)
	}
	if reg := cfg["groundwork:registry"]; !reg.Secret || !strings.Contains(reg.Value, "hunter2") {
		t.Errorf("groundwork:registry = %+v: want a secret holding the password", reg)
	}
	settings, err := stack.Workspace().StackSettings(ctx, stack.Name())
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := json.Marshal(settings.Config); strings.Contains(string(raw), "hunter2") {
		t.Error("the secret override is stored in plaintext")
	}
}

// TestBuildScriptVersions holds build.sh, this package and go.mod together: the folder build.sh
// fills is the one CacheDir names, and the plugins it installs are the versions the SDKs ask for.
func TestBuildScriptVersions(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(RepoRoot(), "tests", "e2e", "engine", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(script)
	for _, want := range []string{"PULUMI_VERSION=" + PulumiVersion + "\n", "K8S_PROVIDER_VERSION=" + KubernetesVersion + "\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("build.sh does not set %q", strings.TrimSpace(want))
		}
	}
	gomod, err := os.ReadFile(filepath.Join(RepoRoot(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		t.Fatal(err)
	}
	sdks := map[string]string{
		"kubernetes": "github.com/pulumi/pulumi-kubernetes/sdk/v4",
		"random":     "github.com/pulumi/pulumi-random/sdk/v4",
		"tls":        "github.com/pulumi/pulumi-tls/sdk/v5",
	}
	for name, version := range Plugins {
		if !strings.Contains(s, "install_plugin "+name+" "+version+"\n") {
			t.Errorf("build.sh does not install plugin %s %s", name, version)
		}
		found := false
		for _, r := range mf.Require {
			if r.Mod.Path == sdks[name] {
				found = true
				if r.Mod.Version != "v"+version {
					t.Errorf("go.mod pins %s %s; the engine's %s plugin is installed as %s", r.Mod.Path, r.Mod.Version, name, version)
				}
			}
		}
		if !found {
			t.Errorf("go.mod requires no %s", sdks[name])
		}
	}
	if v := mf.Require; v == nil {
		t.Fatal("go.mod requires nothing")
	}
	for _, r := range mf.Require {
		if r.Mod.Path == "github.com/pulumi/pulumi/sdk/v3" && r.Mod.Version != PulumiVersion {
			t.Errorf("go.mod pins %s %s; build.sh builds the CLI %s", r.Mod.Path, r.Mod.Version, PulumiVersion)
		}
	}
}

// readTree returns every file under dir, concatenated.
func readTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// testWriter sends the engine's progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
