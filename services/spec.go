package services

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/groundwork/groundwork/services/slo"
)

// Spec is what the platform needs to deploy one service, read from its service.yaml.
type Spec struct {
	Name string // the folder's name
	Dir  string // the folder (its image is built by the Dockerfile beside it, ../Dockerfile)
	// Port serves the API, /healthz and /readyz; MetricsPort serves /metrics. The platform
	// passes them to the service as PORT and METRICS_PORT.
	Port, MetricsPort int
	// Replicas bounds the autoscaler per environment (groundwork:environment: dev, staging,
	// prod); "default" applies to environments not listed.
	Replicas    map[string]Scale
	Autoscaling Autoscaling
	Resources   Resources
	Database    *Database // nil: the service has no database
	Topics      Topics
	Routes      []Route
	DependsOn   []string // services this one calls or whose events it needs
	// Secrets are environment variables the platform fills from secret stack config.
	Secrets []string
	Timeout time.Duration // per request through the mesh
	Retries int           // mesh retries of idempotent failures
	// SLO is what the service promises; slo.Default where service.yaml sets none.
	SLO slo.Objective
}

// Scale is the replica range of one environment.
type Scale struct{ Min, Max int }

// Autoscaling holds the HPA's average utilisation targets, in percent.
type Autoscaling struct{ CPUTarget, MemoryTarget int }

// Resources are Kubernetes quantities for the container.
type Resources struct {
	RequestCPU, RequestMemory, LimitCPU, LimitMemory string
}

// Database is the service's own PostgreSQL database.
type Database struct {
	Engine  string // "postgres"
	Storage string // volume size, a Kubernetes quantity
}

// Topics are the Kafka topics the service writes and reads.
type Topics struct {
	Produces []Topic
	Consumes []string
}

// Topic is a topic the service owns and writes.
type Topic struct {
	Name       string
	Partitions int
	// Retention is how long the topic keeps records; 0 leaves it to the stack (a day in dev, a
	// week in prod).
	Retention time.Duration
}

// Route is a public route on the gateway.
type Route struct {
	Paths     []string
	Auth      string // "jwt" (a token from identity) or "none"
	RateLimit RateLimit
}

// RateLimit caps requests per client; at least one window is set.
type RateLimit struct{ Second, Minute, Hour int }

// Environments are the values of groundwork:environment that service.yaml's replicas may name
// besides "default" (platform validates the stack's environment against the same list).
var Environments = []string{"dev", "staging", "prod"}

// ScaleFor returns the replica range of an environment (groundwork:environment, not the stack's
// name: a prod stack called prod-eu runs the prod range), or the default one.
func (s Spec) ScaleFor(environment string) Scale {
	if sc, ok := s.Replicas[environment]; ok {
		return sc
	}
	return s.Replicas["default"]
}

// file is service.yaml as written; pointers tell a missing field from a zero.
type file struct {
	Port        *int `yaml:"port"`
	MetricsPort *int `yaml:"metricsPort"`
	Replicas    map[string]struct {
		Min *int `yaml:"min"`
		Max *int `yaml:"max"`
	} `yaml:"replicas"`
	Autoscaling struct {
		CPUTarget    *int `yaml:"cpuTarget"`
		MemoryTarget *int `yaml:"memoryTarget"`
	} `yaml:"autoscaling"`
	Resources struct {
		Requests struct {
			CPU    string `yaml:"cpu"`
			Memory string `yaml:"memory"`
		} `yaml:"requests"`
		Limits struct {
			CPU    string `yaml:"cpu"`
			Memory string `yaml:"memory"`
		} `yaml:"limits"`
	} `yaml:"resources"`
	Database *struct {
		Engine  string `yaml:"engine"`
		Storage string `yaml:"storage"`
	} `yaml:"database"`
	Topics struct {
		Produces []struct {
			Name       string `yaml:"name"`
			Partitions *int   `yaml:"partitions"`
			Retention  string `yaml:"retention"`
		} `yaml:"produces"`
		Consumes []string `yaml:"consumes"`
	} `yaml:"topics"`
	Routes []struct {
		Paths     []string `yaml:"paths"`
		Auth      string   `yaml:"auth"`
		RateLimit *struct {
			Second int `yaml:"second"`
			Minute int `yaml:"minute"`
			Hour   int `yaml:"hour"`
		} `yaml:"rateLimit"`
	} `yaml:"routes"`
	DependsOn []string `yaml:"dependsOn"`
	Secrets   []string `yaml:"secrets"`
	Timeout   string   `yaml:"timeout"`
	Retries   *int     `yaml:"retries"`
	SLO       struct {
		Availability *float64 `yaml:"availability"`
		LatencyP99   string   `yaml:"latencyP99"`
	} `yaml:"slo"`
}

var (
	topicName = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$`)
	routePath = regexp.MustCompile(`^/[a-z0-9._~/-]*$`)
	quantity  = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$`)
)

// The secrets a service.yaml may ask for: the platform generates them and mounts each as the
// environment variable of its name (none shadows a variable the chassis reads).
const (
	SecretJWTSigningKey      = "JWT_SIGNING_KEY"      // identity's ES256 key
	SecretCallbackSigningKey = "CALLBACK_SIGNING_KEY" // HMAC key of the payment and delivery callbacks
)

// GeneratedSecrets lists them; anything else in secrets: is refused when service.yaml is read.
var GeneratedSecrets = []string{SecretJWTSigningKey, SecretCallbackSigningKey}

// Load reads and validates the service.yaml of every service in dir (see Discover) and returns
// the specs in dependency order (a service after those it depends on, then by name). Every
// problem of every file is returned at once, each naming the file, the field and the problem;
// references between files (topics consumed, dependencies) are checked too.
func Load(dir string) ([]Spec, error) {
	names, err := Discover(dir)
	if err != nil {
		return nil, err
	}
	var specs []Spec
	var errs []error
	for _, n := range names {
		s, err := loadOne(filepath.Join(dir, n), n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		specs = append(specs, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := crossCheck(dir, specs); err != nil {
		return nil, err
	}
	addLifecycleTopics(specs)
	return dependencyOrder(specs), nil
}

// LifecycleTopics are read by every service, whatever its service.yaml says: the chassis keeps a
// projection of them to refuse suspended tenants and deactivated users (chassis/auth.go). They
// are added where some service produces them.
var LifecycleTopics = []string{"tenant.events", "user.events"}

func addLifecycleTopics(specs []Spec) {
	produced := map[string]bool{}
	for _, s := range specs {
		for _, t := range s.Topics.Produces {
			produced[t.Name] = true
		}
	}
	for i := range specs {
		for _, t := range LifecycleTopics {
			if produced[t] && !slices.Contains(specs[i].Topics.Consumes, t) {
				specs[i].Topics.Consumes = append(slices.Clone(specs[i].Topics.Consumes), t)
			}
		}
	}
}

type problems struct {
	file string
	errs []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s: %s", p.file, field, fmt.Sprintf(format, args...)))
}

func loadOne(dir, name string) (Spec, error) {
	path := filepath.Join(dir, SpecFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); errors.Is(err, io.EOF) {
		return Spec{}, fmt.Errorf("%s: empty file; port, metricsPort, replicas, autoscaling and resources are required", path)
	} else if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
		errs := make([]error, len(te.Errors))
		for i, e := range te.Errors { // "line 3: field replica not found in type services.file"
			errs[i] = fmt.Errorf("%s: %s", path, strings.Replace(e, "in type services.file", "(unknown field)", 1))
		}
		return Spec{}, errors.Join(errs...)
	} else if err != nil {
		return Spec{}, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	p := &problems{file: path}
	s := Spec{Name: name, Dir: dir, Replicas: map[string]Scale{}}

	port := func(field string, v *int) int {
		if v == nil {
			p.add(field, "required")
			return 0
		}
		if *v < 1024 || *v > 65535 {
			p.add(field, "%d is not an unprivileged port (1024-65535; containers run as non-root)", *v)
		}
		return *v
	}
	s.Port, s.MetricsPort = port("port", f.Port), port("metricsPort", f.MetricsPort)
	if f.Port != nil && f.MetricsPort != nil && s.Port == s.MetricsPort {
		p.add("metricsPort", "%d is also port; metrics need a port of their own", s.MetricsPort)
	}

	if _, ok := f.Replicas["default"]; !ok {
		p.add("replicas", `needs a "default" entry (for environments not listed), e.g. default: {min: 1, max: 3}`)
	}
	for _, env := range sortedKeys(f.Replicas) {
		r := f.Replicas[env]
		field := "replicas." + env
		if env != "default" && !slices.Contains(Environments, env) {
			// Keys were once stack names; a stack's name says nothing of its environment.
			p.add(field, "%q is not an environment: keys are default, %s (groundwork:environment, not the stack's name)", env, strings.Join(Environments, ", "))
		}
		if r.Min == nil || r.Max == nil {
			p.add(field, "min and max are required")
			continue
		}
		if *r.Min < 1 || *r.Max <= *r.Min || *r.Max > 100 {
			p.add(field, "min %d, max %d: want 1 <= min < max <= 100, so the autoscaler can act", *r.Min, *r.Max)
		}
		s.Replicas[env] = Scale{Min: *r.Min, Max: *r.Max}
	}

	target := func(field string, v *int) int {
		if v == nil {
			p.add(field, "required (percent, 10-95)")
			return 0
		}
		if *v < 10 || *v > 95 {
			p.add(field, "%d%%: want 10-95", *v)
		}
		return *v
	}
	s.Autoscaling = Autoscaling{CPUTarget: target("autoscaling.cpuTarget", f.Autoscaling.CPUTarget),
		MemoryTarget: target("autoscaling.memoryTarget", f.Autoscaling.MemoryTarget)}

	rs := f.Resources
	s.Resources = Resources{RequestCPU: rs.Requests.CPU, RequestMemory: rs.Requests.Memory, LimitCPU: rs.Limits.CPU, LimitMemory: rs.Limits.Memory}
	pairs := []struct {
		kind, req, lim string
	}{{"cpu", rs.Requests.CPU, rs.Limits.CPU}, {"memory", rs.Requests.Memory, rs.Limits.Memory}}
	for _, pr := range pairs {
		rq, okR := parseQuantity(pr.req)
		lm, okL := parseQuantity(pr.lim)
		if !okR {
			p.add("resources.requests."+pr.kind, "%q is not a Kubernetes quantity such as 250m or 256Mi", pr.req)
		}
		if !okL {
			p.add("resources.limits."+pr.kind, "%q is not a Kubernetes quantity such as 500m or 512Mi", pr.lim)
		}
		if okR && okL && rq > lm {
			p.add("resources.limits."+pr.kind, "%s is below the request %s", pr.lim, pr.req)
		}
	}

	if f.Database != nil {
		if f.Database.Engine != "postgres" {
			p.add("database.engine", "%q: only postgres is offered", f.Database.Engine)
		}
		if _, ok := parseQuantity(f.Database.Storage); !ok || f.Database.Storage == "" {
			p.add("database.storage", "%q is not a size such as 5Gi", f.Database.Storage)
		}
		s.Database = &Database{Engine: f.Database.Engine, Storage: f.Database.Storage}
	}

	producedHere := map[string]bool{}
	for i, t := range f.Topics.Produces {
		field := fmt.Sprintf("topics.produces[%d]", i)
		if !topicName.MatchString(t.Name) || !strings.HasPrefix(t.Name, name+".") {
			p.add(field+".name", "%q: a service produces only its own topics, named %s.<what>", t.Name, name)
		} else if producedHere[t.Name] {
			p.add(field+".name", "%q is listed twice", t.Name)
		}
		producedHere[t.Name] = true
		if t.Partitions == nil || *t.Partitions < 1 || *t.Partitions > 100 {
			p.add(field+".partitions", "required, 1-100")
		} else if strings.HasSuffix(t.Name, ".outbox-relay") && *t.Partitions != 1 {
			p.add(field+".partitions", "%d: the outbox relay's progress topic must have exactly 1", *t.Partitions)
		} else {
			s.Topics.Produces = append(s.Topics.Produces, Topic{Name: t.Name, Partitions: *t.Partitions})
		}
		if t.Retention != "" {
			d, ok := parseRetention(t.Retention)
			switch {
			case !ok:
				p.add(field+".retention", "%q is not a duration such as 72h or 30d", t.Retention)
			case d < time.Hour || d > maxRetention:
				p.add(field+".retention", "%s is out of range; allowed 1h to 365d", t.Retention)
			case len(s.Topics.Produces) > 0 && s.Topics.Produces[len(s.Topics.Produces)-1].Name == t.Name:
				s.Topics.Produces[len(s.Topics.Produces)-1].Retention = d
			}
		}
	}
	for i, t := range f.Topics.Consumes {
		if !topicName.MatchString(t) {
			p.add(fmt.Sprintf("topics.consumes[%d]", i), "%q is not a topic name such as identity.events", t)
		} else if slices.Contains(f.Topics.Consumes[:i], t) {
			p.add(fmt.Sprintf("topics.consumes[%d]", i), "%q is listed twice", t)
		}
	}
	s.Topics.Consumes = f.Topics.Consumes

	for i, r := range f.Routes {
		field := fmt.Sprintf("routes[%d]", i)
		if len(r.Paths) == 0 {
			p.add(field+".paths", "at least one path is required")
		}
		for j, path := range r.Paths {
			if !routePath.MatchString(path) || path == "/" || strings.HasPrefix(path, "/healthz") || strings.HasPrefix(path, "/readyz") || strings.HasPrefix(path, "/metrics") {
				p.add(fmt.Sprintf("%s.paths[%d]", field, j), "%q: an absolute path prefix such as /v1/profiles (not /, not a health or metrics path)", path)
			}
		}
		if r.Auth != "jwt" && r.Auth != "none" {
			p.add(field+".auth", "%q: one of jwt, none", r.Auth)
		}
		rl := RateLimit{}
		if r.RateLimit == nil || r.RateLimit.Second <= 0 && r.RateLimit.Minute <= 0 && r.RateLimit.Hour <= 0 {
			p.add(field+".rateLimit", "required on a public route: second, minute and/or hour, at least one above 0")
		} else {
			rl = RateLimit{Second: r.RateLimit.Second, Minute: r.RateLimit.Minute, Hour: r.RateLimit.Hour}
			if rl.Second < 0 || rl.Minute < 0 || rl.Hour < 0 {
				p.add(field+".rateLimit", "limits cannot be negative")
			}
		}
		s.Routes = append(s.Routes, Route{Paths: r.Paths, Auth: r.Auth, RateLimit: rl})
	}

	for i, d := range f.DependsOn {
		if d == name {
			p.add(fmt.Sprintf("dependsOn[%d]", i), "a service cannot depend on itself")
		}
	}
	s.DependsOn = f.DependsOn
	for i, e := range f.Secrets {
		key := fmt.Sprintf("secrets[%d]", i)
		switch {
		case !slices.Contains(GeneratedSecrets, e):
			p.add(key, "%q: the platform generates %s only; a service takes other credentials through its own configuration", e, strings.Join(GeneratedSecrets, " and "))
		case slices.Contains(f.Secrets[:i], e):
			p.add(key, "%q is listed twice", e)
		}
	}
	s.Secrets = f.Secrets

	s.Timeout = 5 * time.Second
	if f.Timeout != "" {
		d, err := time.ParseDuration(f.Timeout)
		if err != nil || d < 100*time.Millisecond || d > 5*time.Minute {
			p.add("timeout", "%q: a duration from 100ms to 5m", f.Timeout)
		}
		s.Timeout = d
	}
	s.Retries = 2
	if f.Retries != nil {
		if *f.Retries < 0 || *f.Retries > 5 {
			p.add("retries", "%d: want 0-5", *f.Retries)
		}
		s.Retries = *f.Retries
	}
	s.SLO = slo.Default
	if f.SLO.Availability != nil {
		s.SLO.Availability = *f.SLO.Availability
	}
	latencyOK := true
	if f.SLO.LatencyP99 != "" {
		d, err := time.ParseDuration(f.SLO.LatencyP99)
		if err != nil {
			p.add("slo.latencyP99", "%q is not a duration such as 100ms", f.SLO.LatencyP99)
			latencyOK = false
		}
		s.SLO.LatencyP99 = d
	}
	for _, field := range sortedKeys(s.SLO.Problems()) {
		if field != "latencyP99" || latencyOK {
			p.add("slo."+field, "%s", s.SLO.Problems()[field])
		}
	}
	return s, errors.Join(p.errs...)
}

// crossCheck validates what spans files: each consumed topic is produced by some service, each
// dependency exists, no dependency cycle, no route path claimed twice.
func crossCheck(dir string, specs []Spec) error {
	producer := map[string]string{}
	byName := map[string]Spec{}
	for _, s := range specs {
		byName[s.Name] = s
		for _, t := range s.Topics.Produces {
			producer[t.Name] = s.Name
		}
	}
	var errs []error
	paths := map[string]string{}
	for _, s := range specs {
		file := filepath.Join(dir, s.Name, SpecFile)
		for i, t := range s.Topics.Consumes {
			if _, ok := producer[t]; !ok {
				errs = append(errs, fmt.Errorf("%s: topics.consumes[%d]: %q is produced by no service", file, i, t))
			}
		}
		for i, d := range s.DependsOn {
			if _, ok := byName[d]; !ok {
				errs = append(errs, fmt.Errorf("%s: dependsOn[%d]: no service %q in %s", file, i, d, dir))
			}
		}
		for i, r := range s.Routes {
			for _, p := range r.Paths {
				if other, ok := paths[p]; ok {
					errs = append(errs, fmt.Errorf("%s: routes[%d]: path %s is already routed to %s", file, i, p, other))
				}
				paths[p] = s.Name
			}
		}
	}
	if len(errs) == 0 {
		if cycle := findCycle(specs); cycle != nil {
			errs = append(errs, fmt.Errorf("%s: dependsOn: cycle %s", filepath.Join(dir, cycle[0], SpecFile), strings.Join(cycle, " -> ")))
		}
	}
	return errors.Join(errs...)
}

func findCycle(specs []Spec) []string {
	deps := map[string][]string{}
	for _, s := range specs {
		deps[s.Name] = s.DependsOn
	}
	state := map[string]int{} // 0 new, 1 on stack, 2 done
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = 1
		stack = append(stack, n)
		for _, d := range deps[n] {
			if state[d] == 1 {
				i := slices.Index(stack, d)
				return append(slices.Clone(stack[i:]), d)
			}
			if state[d] == 0 {
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = 2
		return nil
	}
	for _, s := range specs {
		if state[s.Name] == 0 {
			if c := visit(s.Name); c != nil {
				return c
			}
		}
	}
	return nil
}

// dependencyOrder sorts specs so each follows its dependencies, ties broken by name (specs
// arrive sorted by name and without cycles).
func dependencyOrder(specs []Spec) []Spec {
	done := map[string]bool{}
	var out []Spec
	for len(out) < len(specs) {
		progressed := false
		for _, s := range specs {
			if done[s.Name] {
				continue
			}
			ready := true
			for _, d := range s.DependsOn {
				ready = ready && done[d]
			}
			if ready {
				done[s.Name] = true
				out = append(out, s)
				progressed = true
				break
			}
		}
		if !progressed { // unreachable after crossCheck; never loop forever
			for _, s := range specs {
				if !done[s.Name] {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// parseQuantity reads a Kubernetes quantity into base units (cores or bytes) for comparison.
func parseQuantity(q string) (float64, bool) {
	m := quantity.FindStringSubmatch(q)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
		"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}[m[3]]
	return v * mult, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// maxRetention is the longest a topic keeps records: a year.
const maxRetention = 365 * 24 * time.Hour

var days = regexp.MustCompile(`^([1-9][0-9]{0,3})d$`)

// parseRetention reads a retention as a number of days ("30d") or a Go duration ("72h").
func parseRetention(s string) (time.Duration, bool) {
	if m := days.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1]) // at most four digits: the pattern was matched
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}
