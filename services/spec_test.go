package services

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadTheRepositoryServices(t *testing.T) {
	specs, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range specs {
		order = append(order, s.Name)
		if _, err := os.Stat(filepath.Join(s.Dir, "main.go")); err != nil {
			t.Errorf("%s: no main package for the Dockerfile to build: %v", s.Name, err)
		}
	}
	if _, err := os.Stat("Dockerfile"); err != nil {
		t.Errorf("one Dockerfile builds every service: %v", err)
	}
	if got := strings.Join(order, ","); got != "identity,subscription,notification,tenant,user,analytics" {
		t.Fatalf("dependency order %s", got)
	}
	user := specs[4]
	if user.Port != 8080 || user.MetricsPort != 9090 || user.ScaleFor("prod") != (Scale{2, 8}) || user.ScaleFor("dev") != (Scale{1, 2}) ||
		user.Database == nil || user.Timeout != 3*time.Second || user.Routes[0].Auth != "jwt" || user.Routes[0].RateLimit.Minute != 1200 {
		t.Fatalf("user spec: %+v", user)
	}
	if got := user.Topics.Produces; len(got) != 2 || got[0].Retention != 0 || got[1].Retention != 30*24*time.Hour {
		t.Fatalf("user topics: %+v; want the events topic at the stack's retention, the relay's kept 30 days", got)
	}
}

const valid = `port: 8080
metricsPort: 9090
replicas:
  default: {min: 1, max: 3}
autoscaling: {cpuTarget: 70, memoryTarget: 80}
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {cpu: 500m, memory: 256Mi}
topics:
  produces: [{name: svc.events, partitions: 3}]
`

func writeServices(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, SpecFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScaleForPicksTheEnvironmentsRange(t *testing.T) {
	dir := writeServices(t, map[string]string{"svc": strings.Replace(valid, "default: {min: 1, max: 3}",
		"default: {min: 1, max: 3}\n  staging: {min: 2, max: 4}\n  prod: {min: 3, max: 9}", 1)})
	specs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give string
		want Scale
	}{
		{"prod", Scale{3, 9}},
		{"staging", Scale{2, 4}},
		{"dev", Scale{1, 3}}, // not listed: default
	}
	for _, tt := range tests {
		if got := specs[0].ScaleFor(tt.give); got != tt.want {
			t.Errorf("ScaleFor(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestLoadReportsEachProblemWithFileAndField(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"valid", valid, nil},
		{"empty", "", []string{"svc/service.yaml: empty file"}},
		{"not YAML", "port: [", []string{"svc/service.yaml: line 1"}},
		{"unknown field", valid + "replica: 3\n", []string{"field replica not found"}},
		{"wrong type", strings.Replace(valid, "port: 8080", "port: http", 1), []string{"svc/service.yaml: line 1: cannot unmarshal"}},
		{"ports", strings.Replace(strings.Replace(valid, "port: 8080", "port: 80", 1), "metricsPort: 9090", "metricsPort: 80", 1),
			[]string{"port: 80 is not an unprivileged port", "metricsPort: 80 is also port"}},
		{"scale", strings.Replace(valid, "default: {min: 1, max: 3}", "prod: {min: 3, max: 3}", 1),
			[]string{`replicas: needs a "default" entry`, "replicas.prod: min 3, max 3"}},
		{"stack name as a replicas key", strings.Replace(valid, "default: {min: 1, max: 3}", "default: {min: 1, max: 3}\n  prod-eu: {min: 3, max: 9}", 1),
			[]string{`replicas.prod-eu: "prod-eu" is not an environment: keys are default, dev, staging, prod`}},
		{"limits below requests", strings.Replace(valid, "limits: {cpu: 500m, memory: 256Mi}", "limits: {cpu: 50m, memory: lots}", 1),
			[]string{"resources.limits.cpu: 50m is below the request 100m", `resources.limits.memory: "lots" is not a Kubernetes quantity`}},
		{"targets missing", strings.Replace(valid, "autoscaling: {cpuTarget: 70, memoryTarget: 80}", "autoscaling: {cpuTarget: 99}", 1),
			[]string{"autoscaling.cpuTarget: 99%", "autoscaling.memoryTarget: required"}},
		{"foreign topic", strings.Replace(valid, "svc.events, partitions: 3", "billing.events, partitions: 0", 1),
			[]string{`topics.produces[0].name: "billing.events": a service produces only its own topics`, "topics.produces[0].partitions: required, 1-100"}},
		{"retention", strings.Replace(valid, "svc.events, partitions: 3", "svc.events, partitions: 3, retention: forever", 1),
			[]string{`topics.produces[0].retention: "forever" is not a duration such as 72h or 30d`}},
		{"retention range", strings.Replace(valid, "svc.events, partitions: 3", "svc.events, partitions: 3, retention: 400d", 1),
			[]string{"topics.produces[0].retention: 400d is out of range; allowed 1h to 365d"}},
		{"relay topic partitions", strings.Replace(valid, "svc.events, partitions: 3", "svc.outbox-relay, partitions: 3", 1),
			[]string{"exactly 1"}},
		{"route", valid + "routes:\n  - paths: [/, v1]\n    auth: basic\n", []string{"routes[0].paths[0]", "routes[0].paths[1]", `routes[0].auth: "basic"`, "routes[0].rateLimit: required"}},
		{"self dependency and secrets", valid + "dependsOn: [svc]\nsecrets: [DATABASE_URL, api-key]\ntimeout: forever\nretries: 9\n",
			[]string{"dependsOn[0]: a service cannot depend on itself", `secrets[0]: "DATABASE_URL"`, `secrets[1]: "api-key"`, `timeout: "forever"`, "retries: 9"}},
		{"a topic twice", strings.Replace(valid, "partitions: 3}]", "partitions: 3}, {name: svc.events, partitions: 6}]\n  consumes: [tenant.events, tenant.events]", 1),
			[]string{`topics.produces[1].name: "svc.events" is listed twice`, `topics.consumes[1]: "tenant.events" is listed twice`}},
		{"a secret the platform does not generate, and one twice", valid + "secrets: [STRIPE_API_KEY, JWT_SIGNING_KEY, JWT_SIGNING_KEY]\n",
			[]string{`secrets[0]: "STRIPE_API_KEY": the platform generates JWT_SIGNING_KEY and CALLBACK_SIGNING_KEY only`, `secrets[2]: "JWT_SIGNING_KEY" is listed twice`}},
		{"database", valid + "database: {engine: mysql}\n", []string{`database.engine: "mysql"`, `database.storage: ""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeServices(t, map[string]string{"svc": tt.give})
			_, err := Load(dir)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, filepath.Join(dir, "svc", SpecFile)+": ") {
					t.Errorf("error line does not start with the file: %s", line)
				}
			}
		})
	}
}

func TestLoadChecksReferencesAcrossServices(t *testing.T) {
	a := valid + "topics:\n  produces: [{name: a.events, partitions: 1}]\n  consumes: [b.events, nobody.events]\ndependsOn: [b, ghost]\n"
	a = strings.Replace(a, "topics:\n  produces: [{name: svc.events, partitions: 3}]\n", "", 1)
	b := strings.Replace(valid, "svc.events", "b.events", 1)
	_, err := Load(writeServices(t, map[string]string{"a": a, "b": b}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{`a/service.yaml: topics.consumes[1]: "nobody.events" is produced by no service`, `a/service.yaml: dependsOn[1]: no service "ghost"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), `"b.events"`) {
		t.Errorf("a topic that b produces is reported: %v", err)
	}

	cyc := func(dep string) string {
		return strings.Replace(valid, "topics:\n  produces: [{name: svc.events, partitions: 3}]\n", "", 1) + "dependsOn: [" + dep + "]\n"
	}
	_, err = Load(writeServices(t, map[string]string{"a": cyc("b"), "b": cyc("a")}))
	if err == nil || !strings.Contains(err.Error(), "dependsOn: cycle a -> b -> a") {
		t.Fatalf("cycle: %v", err)
	}
}

func TestAddingAFolderAddsAService(t *testing.T) {
	dir := writeServices(t, map[string]string{"svc": valid})
	if err := os.MkdirAll(filepath.Join(dir, "docs"), 0o755); err != nil { // no service.yaml: not a service
		t.Fatal(err)
	}
	specs, err := Load(dir)
	if err != nil || len(specs) != 1 || specs[0].Name != "svc" {
		t.Fatalf("%v %+v", err, specs)
	}
}

// The images cannot be built here (no Docker engine); these are the properties the deployment
// relies on, checked on the text of the one Dockerfile that builds every service.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		if strings.HasPrefix(line, "FROM ") {
			froms = append(froms, strings.Fields(line)[1])
		}
	}
	if len(froms) != 2 || froms[1] != "scratch" {
		t.Errorf("want a build stage and a scratch final stage, got %v", froms)
	}
	for _, f := range froms[:len(froms)-1] {
		if tag := f[strings.LastIndex(f, ":")+1:]; !strings.Contains(f, ":") || tag == "latest" || !strings.ContainsAny(tag, "0123456789") {
			t.Errorf("base image %s is not pinned to an exact version tag", f)
		}
	}
	for _, want := range []string{"ARG SERVICE", "CGO_ENABLED=0", `"./services/$SERVICE"`, "USER 65532:65532", `ENTRYPOINT ["/service"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	names, err := Discover(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(n, "Dockerfile")); err == nil {
			t.Errorf("%s/Dockerfile: the shared Dockerfile builds every service; remove the copy", n)
		}
	}
}
