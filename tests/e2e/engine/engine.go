// Package engine drives Groundwork's program through a real Pulumi engine, the Automation API and
// the providers tests/e2e/engine/build.sh builds from the Go module proxy: the Pulumi CLI,
// pulumi-resource-kubernetes, and stand-ins for the random and tls providers (the proxy serves
// neither; see standin/). A test gets an auto.Stack on a throwaway file backend, with its own
// PULUMI_HOME holding exactly those plugins and no way to download others.
package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/platform"
)

// The versions build.sh builds (TestBuildScriptVersions holds the two files together).
const (
	PulumiVersion = "v3.274.1"
	// KubernetesVersion is the provider built: the newest pulumi-kubernetes the proxy serves
	// (provider/v4@v4.0.0-20260115033456-f47bc2d6f199, the v4.25.0 release).
	KubernetesVersion = "4.25.0"
)

// Plugins are the resource plugins build.sh installs into <cache>/home, by the name and version
// the program's SDKs ask for (each SDK's pulumi-plugin.json; go.mod pins the SDKs). kubernetes is
// the 4.25.0 binary installed as 4.32.0: the engine loads a plugin by the version the SDK asks for
// and, when the plugin reports an older one, only warns once per run ("resource plugin kubernetes
// is expected to have version >=4.32.0, but has 4.25.0"). Installed as 4.25.0 it would need
// pulumi.Version("4.25.0") on every kubernetes resource and provider of the program.
var Plugins = map[string]string{"kubernetes": "4.32.0", "random": "4.19.1", "tls": "5.5.1"}

// Passphrase encrypts the throwaway stacks' secrets.
const Passphrase = "groundwork-e2e"

// Project is the Pulumi project of the stacks: Groundwork's.
const Project = "groundwork"

// CacheDir is where build.sh puts the engine: ${GROUNDWORK_E2E_CACHE:-$HOME/.cache/groundwork-e2e}/
// pulumi-<version>-k8s-<provider version>.
func CacheDir() string {
	root := os.Getenv("GROUNDWORK_E2E_CACHE")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "groundwork-e2e")
	}
	return filepath.Join(root, "pulumi-"+PulumiVersion+"-k8s-"+KubernetesVersion)
}

// Engine is a complete build.sh folder.
type Engine struct {
	// Dir holds bin/pulumi and home/plugins.
	Dir string
}

// Open returns the engine in dir, or an error naming what is missing.
func Open(dir string) (*Engine, error) {
	need := []string{filepath.Join(dir, "bin", "pulumi"), filepath.Join(dir, "COMPLETE")}
	for name, version := range Plugins {
		need = append(need, filepath.Join(dir, "home", "plugins", "resource-"+name+"-v"+version, "pulumi-resource-"+name))
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("no Pulumi engine in %s (%s missing): run tests/e2e/engine/build.sh (cold: about 40 minutes of CPU, over an hour on 2 busy cores)", dir, filepath.Base(p))
		}
	}
	return &Engine{Dir: dir}, nil
}

// Require returns the engine build.sh made, or skips the test saying how to make it; under
// CI=true a missing engine fails the test instead.
func Require(t testing.TB) *Engine {
	t.Helper()
	e, err := Open(CacheDir())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return e
}

// Options configure a stack.
type Options struct {
	// Stack is the stack's name; default "dev".
	Stack string
	// Program is the inline program; default platform.Run.
	Program pulumi.RunFunc
	// ProjectFile is the Pulumi.yaml whose config schema and defaults the stack gets; default
	// the repository's (which requires cloud, environment and owner).
	ProjectFile string
	// BareProject gives the stack a project without config schema instead (a program other
	// than platform.Run).
	BareProject bool
	// StateDir holds the file backend's state; default a test temporary folder.
	StateDir string
	// Env adds to the CLI's environment.
	Env map[string]string
}

// RepoRoot is the repository's root (where Pulumi.yaml is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Stack prepares a PULUMI_HOME with the engine's plugins, a file backend and the CLI, and returns
// the stack made with auto.UpsertStackInlineSource. The stack starts with no configuration: see
// SetStackFileConfig. It is not destroyed at the end of the test.
func (e *Engine) Stack(ctx context.Context, t testing.TB, opts Options) (auto.Stack, error) {
	t.Helper()
	if opts.Stack == "" {
		opts.Stack = "dev"
	}
	if opts.Program == nil {
		// platform.Run reads services/ (groundwork:servicesDir) relative to the working directory,
		// as `pulumi up` runs it from the project root; an inline program runs in the test's
		// process, whose directory is the test package's.
		if wd, err := os.Getwd(); err != nil || filepath.Clean(wd) != RepoRoot() {
			return auto.Stack{}, fmt.Errorf("platform.Run must run from the repository root %s, not %s: os.Chdir(engine.RepoRoot()) in TestMain", RepoRoot(), wd)
		}
		opts.Program = platform.Run
	}
	if opts.ProjectFile == "" {
		opts.ProjectFile = filepath.Join(RepoRoot(), "Pulumi.yaml")
	}
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	home := t.TempDir()
	// The plugins build.sh installed, shared read-only: the engine only reads plugins/ when it
	// may not download any.
	if err := os.Symlink(filepath.Join(e.Dir, "home", "plugins"), filepath.Join(home, "plugins")); err != nil {
		return auto.Stack{}, err
	}
	proj := &workspace.Project{}
	if !opts.BareProject {
		var err error
		if proj, err = workspace.LoadProject(opts.ProjectFile); err != nil {
			return auto.Stack{}, err
		}
	}
	proj.Name = Project
	// An inline program runs in this process: the runtime's options (a build target) are moot.
	proj.Runtime = workspace.NewProjectRuntimeInfo("go", nil)
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: e.Dir})
	if err != nil {
		return auto.Stack{}, err
	}
	env := map[string]string{
		"PULUMI_HOME":                                 home,
		"PULUMI_BACKEND_URL":                          "file://" + opts.StateDir,
		"PULUMI_CONFIG_PASSPHRASE":                    Passphrase,
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS":               "true",
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_SKIP_CONFIRMATIONS":                   "true",
		"PATH":                                        filepath.Join(e.Dir, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	return auto.UpsertStackInlineSource(ctx, opts.Stack, Project, opts.Program,
		auto.Pulumi(cmd), auto.PulumiHome(home), auto.Project(*proj), auto.EnvVars(env),
		auto.WorkDir(t.TempDir()), auto.SecretsProvider("passphrase"))
}

// SetStackFileConfig replaces the stack's configuration with a stack file's (Pulumi.dev.yaml,
// Pulumi.prod.yaml: objects stay objects, as `pulumi up` reads them), then applies overrides:
// keys such as "groundwork:cloud" or, with a dot or brackets after the key, paths such as
// "groundwork:kubernetes.renderTo" (pulumi config set --path).
func SetStackFileConfig(ctx context.Context, stack auto.Stack, file string, overrides map[string]auto.ConfigValue) error {
	ws := stack.Workspace()
	proj, err := ws.ProjectSettings(ctx)
	if err != nil {
		return err
	}
	from, err := workspace.LoadProjectStack(diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never}), proj, file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	settings, err := ws.StackSettings(ctx, stack.Name())
	if err != nil {
		return err
	}
	settings.Config = from.Config
	if err := ws.SaveStackSettings(ctx, stack.Name(), settings); err != nil {
		return err
	}
	for key, v := range overrides {
		path := strings.ContainsAny(strings.TrimPrefix(key, Project+":"), ".[")
		if err := stack.SetConfigWithOptions(ctx, key, v, &auto.ConfigOptions{Path: path}); err != nil {
			return fmt.Errorf("config %s: %w", key, err)
		}
	}
	return nil
}
