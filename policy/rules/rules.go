// Package rules holds the policies of the Groundwork policy pack: what each checks, the quality
// goal it serves, its default enforcement level and its settings. The policies work on plain
// Pulumi property maps, so tests and tools run them without the engine (Evaluate); Pack serves
// them to the Pulumi engine through policyx.
package rules

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Goal is the quality goal of the seed brief a policy serves.
type Goal string

// The quality goals.
const (
	Reliability     Goal = "reliability"
	Scalability     Goal = "scalability"
	Maintainability Goal = "maintainability"
	Security        Goal = "security"
	// Stack marks the whole-stack checks, which look at several resources together.
	Stack Goal = "stack"
)

// Level is an enforcement level, spelled as in a policy pack config file.
type Level string

// Enforcement levels.
const (
	Advisory  Level = "advisory"
	Mandatory Level = "mandatory"
	Disabled  Level = "disabled"
)

// Resource is one resource as the policies see it.
type Resource struct {
	// URN identifies the resource in violations.
	URN string
	// Type is the type token, e.g. "kubernetes:apps/v1:Deployment".
	Type string
	// Name is the resource's logical name (the last part of the URN).
	Name string
	// Properties are the resource's inputs (or, for whole-stack checks after an update, its
	// outputs). Unknown values (previews) are never reported as violations.
	Properties property.Map
	// Protect is the resource's protect option.
	Protect bool
}

// Violation is one finding of one policy.
type Violation struct {
	Policy string
	Level  Level
	URN    string
	// Message names the resource, what is wrong and the fix.
	Message string
}

// String formats the violation as "[level] policy: message".
func (v Violation) String() string {
	return fmt.Sprintf("[%s] %s: %s", v.Level, v.Policy, v.Message)
}

// Finding is what a check reports: the resource at fault and the message.
type Finding struct {
	Resource Resource
	Message  string
}

// Policy is one rule of the pack.
type Policy struct {
	// Name is the policy's name in config files and reports.
	Name string
	// Goal is the quality goal it serves.
	Goal Goal
	// Description says what it checks and why.
	Description string
	// Level is the enforcement level when no config file sets one.
	Level Level
	// Params are the policy's own settings; every policy also takes exemptNames and
	// exemptNamespaces.
	Params []Param
	// Check validates one resource; nil for a whole-stack policy.
	Check func(r Resource, c Config) []string
	// CheckStack validates all the stack's resources together; nil for a resource policy.
	CheckStack func(rs []Resource, c Config) []Finding
}

// FullDescription is the description as the engine shows it: goal first.
func (p Policy) FullDescription() string {
	return fmt.Sprintf("%s: %s", goalTitle(p.Goal), p.Description)
}

func goalTitle(g Goal) string {
	if g == Stack {
		return "Stack"
	}
	s := string(g)
	return strings.ToUpper(s[:1]) + s[1:]
}

// Policies returns every policy of the pack, in a stable order.
func Policies() []Policy {
	var out []Policy
	out = append(out, reliability()...)
	out = append(out, scalability()...)
	out = append(out, maintainability()...)
	out = append(out, security()...)
	out = append(out, stackPolicies()...)
	return out
}

// Lookup returns the policy with the given name.
func Lookup(name string) (Policy, bool) {
	for _, p := range Policies() {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}

// exempt reports whether the config exempts a resource: by its logical name, its Kubernetes
// name or "namespace/name", or its Kubernetes namespace (patterns are path.Match globs), or as
// an object a Helm chart rendered.
func exempt(r Resource, c Config) bool {
	if c.Bool(paramExemptChartObjects) && RenderedByChart(r.URN) {
		return true
	}
	names := []string{r.Name}
	ns := ""
	if isKubernetes(r.Type) {
		if n := k8sName(r); n != "" {
			names = append(names, n)
		}
		ns = namespaceOf(r)
		for _, n := range slices.Clone(names) {
			names = append(names, ns+"/"+n)
		}
	}
	for _, pat := range c.Strings(paramExemptNames) {
		for _, n := range names {
			if ok, _ := path.Match(pat, n); ok {
				return true
			}
		}
	}
	if ns != "" {
		for _, pat := range c.Strings(paramExemptNamespaces) {
			if ok, _ := path.Match(pat, ns); ok {
				return true
			}
		}
	}
	return false
}

// RenderedByChart reports whether a URN is of an object a Helm chart rendered: one of its
// parents' types, in the URN's type chain, is a kubernetes:helm.sh chart or release.
func RenderedByChart(urn string) bool {
	// urn:pulumi:<stack>::<project>::<parent$...$type>::<name>
	parts := strings.SplitN(urn, "::", 4)
	if len(parts) < 4 {
		return false
	}
	chain := strings.Split(parts[2], "$")
	return slices.ContainsFunc(chain[:len(chain)-1], isHelm)
}

// Evaluate runs every policy that the resolved config enables: resource policies on each
// resource, then the whole-stack policies on all of them. It returns the violations in policy
// order.
func Evaluate(resources []Resource, cfg Resolved) []Violation {
	var out []Violation
	for _, p := range Policies() {
		set, ok := cfg[p.Name]
		if !ok {
			set = Settings{Level: p.Level, Config: defaults(p)}
		}
		if set.Level == Disabled {
			continue
		}
		for _, f := range run(p, resources, set.Config) {
			out = append(out, Violation{Policy: p.Name, Level: set.Level, URN: f.Resource.URN, Message: f.Message})
		}
	}
	return out
}

// run applies one policy with its config to the resources, leaving out exempt ones.
func run(p Policy, resources []Resource, c Config) []Finding {
	var out []Finding
	if p.Check != nil {
		for _, r := range resources {
			if exempt(r, c) {
				continue
			}
			for _, m := range p.Check(r, c) {
				out = append(out, Finding{Resource: r, Message: m})
			}
		}
	}
	if p.CheckStack != nil {
		for _, f := range p.CheckStack(resources, c) {
			if !exempt(f.Resource, c) {
				out = append(out, f)
			}
		}
	}
	return out
}

// Check runs one policy on one resource with the policy's default settings overlaid by props
// (a config file's properties for the policy). It is what tools and tests call.
func Check(p Policy, r Resource, props map[string]any) ([]string, error) {
	c, err := parseConfig(p, props)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range run(p, []Resource{r}, c) {
		out = append(out, f.Message)
	}
	return out, nil
}

// CheckAll runs one policy on a set of resources, as the engine runs a whole-stack policy.
func CheckAll(p Policy, rs []Resource, props map[string]any) ([]Finding, error) {
	c, err := parseConfig(p, props)
	if err != nil {
		return nil, err
	}
	return run(p, rs, c), nil
}

// subject names a resource in a message: its kind and Kubernetes namespace/name, or its type
// and logical name.
func subject(r Resource) string {
	if isKubernetes(r.Type) && !isHelm(r.Type) {
		name := str(r.Properties, "metadata.name")
		if name == "" {
			name = r.Name
		}
		if ns := namespaceOf(r); ns != "" {
			name = ns + "/" + name
		}
		return fmt.Sprintf("%s %q (resource %q)", kindName(r.Type), name, r.Name)
	}
	return fmt.Sprintf("%s %q", r.Type, r.Name)
}

// violation formats a message: the resource, the problem and the fix.
func violation(r Resource, problem, fix string) string {
	return fmt.Sprintf("%s: %s. Fix: %s", subject(r), problem, fix)
}
