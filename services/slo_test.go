package services

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundwork/groundwork/services/slo"
)

func TestSLOComesFromServiceYAMLOrTheBrief(t *testing.T) {
	dir := writeServices(t, map[string]string{
		"plain":  strings.Replace(valid, "svc.events", "plain.events", 1),
		"custom": strings.Replace(valid, "svc.events", "custom.events", 1) + "slo: {availability: 99.9, latencyP99: 250ms}\n",
	})
	specs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]slo.Objective{}
	for _, s := range specs {
		got[s.Name] = s.SLO
	}
	if got["plain"] != (slo.Objective{Availability: 99.95, LatencyP99: 100 * time.Millisecond}) {
		t.Errorf("default SLO %+v, want the brief's 99.95%% and p99 100ms", got["plain"])
	}
	if got["custom"] != (slo.Objective{Availability: 99.9, LatencyP99: 250 * time.Millisecond}) {
		t.Errorf("SLO %+v, want service.yaml's", got["custom"])
	}
}

func TestBadSLOIsReportedWithFileAndField(t *testing.T) {
	tests := []struct {
		name, give, want string
	}{
		{"availability 100", "slo: {availability: 100}\n", "slo.availability: 100% is out of range; allowed 90 to 99.999"},
		{"availability low", "slo: {availability: 50}\n", "slo.availability: 50% is out of range"},
		{"latency not a duration", "slo: {latencyP99: fast}\n", `slo.latencyP99: "fast" is not a duration such as 100ms`},
		{"latency between buckets", "slo: {latencyP99: 120ms}\n",
			"slo.latencyP99: 120ms is not a bucket bound of Istio's request-duration histogram, which the objective is measured on; allowed: 5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2.5s, 5s, 10s"},
		{"unknown field", "slo: {latency: 100ms}\n", "field latency not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeServices(t, map[string]string{"svc": valid + tt.give})
			_, err := Load(dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), filepath.Join(dir, "svc", SpecFile)+": ") {
				t.Errorf("error %q, want %q from the file", err, tt.want)
			}
		})
	}
}

func TestErrorBudgetIsExact(t *testing.T) {
	for _, tt := range []struct {
		give float64
		want float64
	}{{99.95, 0.0005}, {99.9, 0.001}, {99, 0.01}, {99.999, 0.00001}} {
		if got := (slo.Objective{Availability: tt.give}).ErrorBudget(); got != tt.want {
			t.Errorf("budget of %v%%: %v, want %v", tt.give, got, tt.want)
		}
	}
}
