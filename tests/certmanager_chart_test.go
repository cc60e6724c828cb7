package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/groundwork/groundwork/components/certmanager"
)

// The cert-manager chart is not in the reference charts folder: the tests take it from the Go
// module of the pinned release, a download the module proxy serves and the checksum database
// verifies. The module holds the chart's source in deploy/charts/cert-manager with
// "v0.0.0" as version and appVersion; cert-manager's release tooling sets both to the release
// tag before packaging (make/manifests.mk, the $(bin_dir)/helm/cert-manager/Chart.yaml target:
// yq '.version = "$(VERSION)" | .appVersion = "$(VERSION)"', then helm package
// --app-version=$(VERSION) --version=$(VERSION)). The copy made here does the same, so it
// renders as the published chart does. It is kept in the user cache folder, one per version.
const certManagerModule = "github.com/cert-manager/cert-manager"

var certManagerDownload struct {
	once   sync.Once
	folder string
	err    error
}

// certManagerChart returns the folder of the pinned cert-manager chart, made once per process.
func certManagerChart() (string, error) {
	d := &certManagerDownload
	d.once.Do(func() { d.folder, d.err = makeCertManagerChart(certmanager.Version) })
	return d.folder, d.err
}

func makeCertManagerChart(version string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	folder := filepath.Join(cache, "groundwork-test-charts", certmanager.Chart.Name+"-"+version)
	if _, err := os.Stat(filepath.Join(folder, "Chart.yaml")); err == nil {
		return folder, nil
	}
	cmd := exec.Command("go", "mod", "download", "-json", certManagerModule+"@"+version)
	// Outside the project: the download must not touch its go.mod.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &mod); err != nil || mod.Error != "" || runErr != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v %s %s", certManagerModule, version, runErr, mod.Error, stderr.String())
	}
	src := filepath.Join(mod.Dir, "deploy", "charts", "cert-manager")
	tmp, err := os.MkdirTemp(filepath.Dir(folder), ".cert-manager-")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(folder), 0o755); err != nil {
			return "", err
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(folder), ".cert-manager-"); err != nil {
			return "", err
		}
	}
	defer os.RemoveAll(tmp)
	if err := os.CopyFS(tmp, os.DirFS(src)); err != nil {
		return "", fmt.Errorf("copy the chart from %s: %w", src, err)
	}
	// The module cache is read-only: so is the copy.
	if err := filepath.WalkDir(tmp, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if e.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	}); err != nil {
		return "", err
	}
	chartFile := filepath.Join(tmp, "Chart.yaml")
	raw, err := os.ReadFile(chartFile)
	if err != nil {
		return "", err
	}
	for _, key := range []string{"version", "appVersion"} {
		re := regexp.MustCompile(`(?m)^` + key + `: v0\.0\.0$`)
		if !re.Match(raw) {
			return "", fmt.Errorf("%s of %s@%s: no %q placeholder to set; has the release tooling changed?", chartFile, certManagerModule, version, key+": v0.0.0")
		}
		raw = re.ReplaceAll(raw, []byte(key+": "+version))
	}
	if err := os.WriteFile(chartFile, raw, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, folder); err != nil && !errors.Is(err, fs.ErrExist) {
		// Another test process made it first: use theirs.
		if _, statErr := os.Stat(filepath.Join(folder, "Chart.yaml")); statErr != nil {
			return "", err
		}
	}
	return folder, nil
}

// downloadedChart is the hook renderChart asks where a chart of the charts folder comes from a
// download instead: ok says the chart is one of those.
func downloadedChart(name, version string) (folder string, ok bool, err error) {
	if name != certmanager.Chart.Name || version != certmanager.Chart.Version {
		return "", false, nil
	}
	folder, err = certManagerChart()
	return folder, true, err
}

// needDownloadedCharts makes the downloaded charts, or skips the test where they cannot be had;
// under CI=true a failed download fails, so CI never passes without rendering them.
func needDownloadedCharts(t testing.TB) {
	t.Helper()
	if _, err := certManagerChart(); err != nil {
		msg := fmt.Sprintf("the cert-manager chart %s comes from the Go module %s (go mod download): %v", certmanager.Version, certManagerModule, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipping: " + msg)
	}
}

// downloadedCRDFiles are the CRDs of the downloaded charts, for the CRD schema checks.
func downloadedCRDFiles() []string {
	folder, err := certManagerChart()
	if err != nil {
		return nil // needDownloadedCharts has reported it
	}
	return []string{filepath.Join(folder, "templates", "crd-*.yaml")}
}
