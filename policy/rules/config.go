package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// Kind is the type of a policy setting.
type Kind string

// Kinds of settings.
const (
	KindInt     Kind = "integer"
	KindBool    Kind = "boolean"
	KindString  Kind = "string"
	KindStrings Kind = "strings"
)

// Param is one setting of a policy, with its default.
type Param struct {
	Name        string
	Kind        Kind
	Default     any
	Description string
}

// Settings every policy takes.
const (
	paramExemptNames        = "exemptNames"
	paramExemptNamespaces   = "exemptNamespaces"
	paramExemptChartObjects = "exemptChartObjects"
)

var commonParams = []Param{
	{paramExemptNames, KindStrings, []string{}, "Resources the policy skips: globs on the logical name, the Kubernetes name or \"namespace/name\"."},
	{paramExemptNamespaces, KindStrings, []string{}, "Kubernetes namespaces the policy skips (globs)."},
	{paramExemptChartObjects, KindBool, false, "Skip the objects a Helm chart renders (their shape is the chart's, set through its values), checking only the objects the program writes itself."},
}

// AllParams returns the policy's settings, its own and the common ones.
func (p Policy) AllParams() []Param {
	return append(slices.Clone(p.Params), commonParams...)
}

// Schema returns the policy's config as JSON schema properties, with defaults, the form
// policyx.ConfigSchema takes.
func (p Policy) Schema() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, prm := range p.AllParams() {
		s := map[string]any{"description": prm.Description, "default": prm.Default}
		switch prm.Kind {
		case KindInt:
			s["type"] = "integer"
		case KindBool:
			s["type"] = "boolean"
		case KindString:
			s["type"] = "string"
		case KindStrings:
			s["type"] = "array"
			s["items"] = map[string]any{"type": "string"}
			// The engine sends config through protobuf Structs: keep defaults JSON-shaped.
			list := []any{}
			for _, v := range prm.Default.([]string) {
				list = append(list, v)
			}
			s["default"] = list
		}
		out[prm.Name] = s
	}
	return out
}

// Config is a policy's settings, defaults applied and types checked.
type Config struct {
	values map[string]any
}

// Int returns an integer setting.
func (c Config) Int(name string) int { v, _ := c.values[name].(int); return v }

// Bool returns a boolean setting.
func (c Config) Bool(name string) bool { v, _ := c.values[name].(bool); return v }

// String returns a string setting.
func (c Config) String(name string) string { v, _ := c.values[name].(string); return v }

// Strings returns a list setting.
func (c Config) Strings(name string) []string { v, _ := c.values[name].([]string); return v }

func defaults(p Policy) Config {
	c := Config{values: map[string]any{}}
	for _, prm := range p.AllParams() {
		c.values[prm.Name] = prm.Default
	}
	return c
}

// parseConfig overlays config file properties (JSON-decoded) on the policy's defaults. An
// unknown key or a value of the wrong type is an error naming the policy, the key and what is
// allowed, so a typo never silently turns a check off.
func parseConfig(p Policy, props map[string]any) (Config, error) {
	c := defaults(p)
	params := map[string]Param{}
	for _, prm := range p.AllParams() {
		params[prm.Name] = prm
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(props)) {
		raw := props[key]
		prm, ok := params[key]
		if !ok {
			errs = append(errs, fmt.Errorf("policy %s: unknown setting %q; allowed: %s", p.Name, key, strings.Join(slices.Sorted(maps.Keys(params)), ", ")))
			continue
		}
		v, err := convert(prm.Kind, raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %s: setting %s: %v", p.Name, key, err))
			continue
		}
		c.values[key] = v
	}
	return c, errors.Join(errs...)
}

func convert(k Kind, raw any) (any, error) {
	switch k {
	case KindInt:
		switch n := raw.(type) {
		case float64:
			if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
				return nil, fmt.Errorf("%v is not an integer", raw)
			}
			return int(n), nil
		case int:
			return n, nil
		}
		return nil, fmt.Errorf("%v (%T) is not an integer", raw, raw)
	case KindBool:
		if b, ok := raw.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("%v (%T) is not true or false", raw, raw)
	case KindString:
		if s, ok := raw.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("%v (%T) is not a string", raw, raw)
	case KindStrings:
		switch l := raw.(type) {
		case []string:
			return slices.Clone(l), nil
		case []any:
			out := make([]string, 0, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("[%d]: %v (%T) is not a string", i, e, e)
				}
				out = append(out, s)
			}
			return out, nil
		}
		return nil, fmt.Errorf("%v (%T) is not a list of strings", raw, raw)
	}
	return nil, fmt.Errorf("unknown kind %s", k)
}

// Settings are one policy's effective enforcement level and config.
type Settings struct {
	Level  Level
	Config Config
}

// Resolved maps every policy name to its effective settings.
type Resolved map[string]Settings

// Default resolves every policy to its own level and default settings: the pack run with no
// config file.
func Default() Resolved {
	out := Resolved{}
	for _, p := range Policies() {
		out[p.Name] = Settings{Level: p.Level, Config: defaults(p)}
	}
	return out
}

// ParseConfigFile resolves a policy pack config file (the file `pulumi preview
// --policy-pack-config` takes) the way the engine does: each policy starts at its own level
// and defaults, the "all" entry sets every level, then each policy's entry sets its level and
// settings. Unlike the engine, an unknown policy name or setting is an error here.
func ParseConfigFile(data []byte) (Resolved, error) {
	out := Default()
	if strings.TrimSpace(string(data)) == "" {
		return out, nil
	}
	var file map[string]any
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("policy config: %w", err)
	}
	var errs []error
	if all, ok := file["all"]; ok {
		lvl, props, err := entry("all", all)
		switch {
		case err != nil:
			errs = append(errs, err)
		case len(props) > 0:
			errs = append(errs, fmt.Errorf("policy config: \"all\" takes only an enforcement level"))
		case lvl != "":
			for name, s := range out {
				s.Level = lvl
				out[name] = s
			}
		}
	}
	names := make([]string, 0, len(file))
	for k := range file {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "all" {
			continue
		}
		p, ok := Lookup(name)
		if !ok {
			errs = append(errs, fmt.Errorf("policy config: unknown policy %q; the pack has: %s", name, strings.Join(PolicyNames(), ", ")))
			continue
		}
		lvl, props, err := entry(name, file[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s := out[name]
		if lvl != "" {
			s.Level = lvl
		}
		c, err := parseConfig(p, props)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.Config = c
		out[name] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// LoadConfigFile reads and resolves a policy pack config file.
func LoadConfigFile(file string) (Resolved, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r, err := ParseConfigFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return r, nil
}

// entry reads one config file entry: a level string, or an object with an optional
// enforcementLevel and the policy's settings.
func entry(name string, v any) (Level, map[string]any, error) {
	switch v := v.(type) {
	case string:
		lvl, err := parseLevel(name, v)
		return lvl, nil, err
	case map[string]any:
		props := maps.Clone(v)
		var lvl Level
		if raw, ok := props["enforcementLevel"]; ok {
			s, _ := raw.(string)
			l, err := parseLevel(name, s)
			if err != nil {
				return "", nil, err
			}
			lvl = l
			delete(props, "enforcementLevel")
		}
		return lvl, props, nil
	}
	return "", nil, fmt.Errorf("policy config: %q: %v is neither an enforcement level nor an object", name, v)
}

func parseLevel(name, s string) (Level, error) {
	switch l := Level(s); l {
	case Advisory, Mandatory, Disabled:
		return l, nil
	}
	return "", fmt.Errorf("policy config: %q: enforcement level %q is not advisory, mandatory or disabled", name, s)
}

// PolicyNames lists the names of every policy.
func PolicyNames() []string {
	var out []string
	for _, p := range Policies() {
		out = append(out, p.Name)
	}
	return out
}
