package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/kafka"
	"github.com/groundwork/groundwork/components/kong"
	"github.com/groundwork/groundwork/components/postgres"
)

// crdFiles are the CRDs of the operator charts the program pins (Strimzi, CloudNativePG, Kong),
// inside their chart folders: the schemas follow the pins.
func crdFiles(charts string) []string {
	folder := func(s chart.Spec, sub string) string {
		return filepath.Join(charts, s.Name+"-"+s.Version, sub)
	}
	return append([]string{
		folder(kong.Chart, "crds/*.yaml"),
		folder(kafka.StrimziChart, "crds/*.yaml"),
		folder(postgres.OperatorChart, "templates/crds/crds.yaml"),
	}, downloadedCRDFiles()...)
}

// crdSchemas are the openAPIV3Schemas of every served version of the reference CRDs, made strict:
// an object that the API server would prune unknown fields from rejects them instead, so a
// misspelt or misplaced field fails a test rather than vanishing on apply.
type crdSchemas struct {
	byKind map[string]*jsonschema.Schema // "group/version Kind"
}

var (
	crdOnce   sync.Once
	crdLoaded *crdSchemas
	crdErr    error
)

// loadCRDs reads and compiles the charts' CRDs once; without the charts folder it skips, and
// fails under CI=true (needCharts).
func loadCRDs(t testing.TB) *crdSchemas {
	t.Helper()
	charts := needCharts(t)
	crdOnce.Do(func() { crdLoaded, crdErr = compileCRDs(crdFiles(charts)) })
	if crdErr != nil {
		t.Fatal(crdErr)
	}
	return crdLoaded
}

// templateLine is a line that is only a template action, indented or not (cert-manager's CRDs
// put their labels and annotations in such lines).
var templateLine = regexp.MustCompile(`(?m)^\s*\{\{.*\}\}\s*$`)

func compileCRDs(globs []string) (*crdSchemas, error) {
	var files []string
	for _, g := range globs {
		matched, err := filepath.Glob(g)
		if err != nil {
			return nil, err
		}
		if len(matched) == 0 {
			return nil, fmt.Errorf("no CRDs at %s", g)
		}
		files = append(files, matched...)
	}
	out := &crdSchemas{byKind: map[string]*jsonschema.Schema{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		// A chart that makes its CRDs optional wraps them in a template condition.
		data = templateLine.ReplaceAll(data, nil)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var crd struct {
				Kind string `yaml:"kind"`
				Spec struct {
					Group string `yaml:"group"`
					Names struct {
						Kind string `yaml:"kind"`
					} `yaml:"names"`
					Versions []struct {
						Name   string `yaml:"name"`
						Served bool   `yaml:"served"`
						Schema struct {
							OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
						} `yaml:"schema"`
					} `yaml:"versions"`
				} `yaml:"spec"`
			}
			if err := dec.Decode(&crd); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if crd.Kind != "CustomResourceDefinition" {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if !v.Served || v.Schema.OpenAPIV3Schema == nil {
					continue
				}
				key := crd.Spec.Group + "/" + v.Name + " " + crd.Spec.Names.Kind
				root := v.Schema.OpenAPIV3Schema
				if props, ok := root["properties"].(map[string]any); ok {
					// The API server validates metadata itself, as ObjectMeta: checkCustomResources
					// decodes it strictly into metav1.ObjectMeta.
					props["metadata"] = map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
				}
				strict(root)
				raw, err := json.Marshal(root)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", f, key, err)
				}
				c := jsonschema.NewCompiler()
				url := "crd://" + strings.ReplaceAll(key, " ", "/")
				if err := c.AddResource(url, bytes.NewReader(raw)); err != nil {
					return nil, fmt.Errorf("%s %s: %w", f, key, err)
				}
				s, err := c.Compile(url)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", f, key, err)
				}
				out.byKind[key] = s
			}
		}
	}
	return out, nil
}

// strict sets additionalProperties: false on every object schema that neither preserves unknown
// fields nor declares a map, as structural-schema pruning would drop those fields.
func strict(node any) {
	switch n := node.(type) {
	case map[string]any:
		_, hasAdditional := n["additionalProperties"]
		preserve, _ := n["x-kubernetes-preserve-unknown-fields"].(bool)
		if n["type"] == "object" && !hasAdditional && !preserve {
			n["additionalProperties"] = false
		}
		for _, v := range n {
			strict(v)
		}
	case []any:
		for _, v := range n {
			strict(v)
		}
	}
}

// validate checks one object (apiVersion, kind, metadata, spec) against its CRD's schema.
func (c *crdSchemas) validate(obj map[string]any) error {
	key := fmt.Sprintf("%v %v", obj["apiVersion"], obj["kind"])
	s, ok := c.byKind[key]
	if !ok {
		return fmt.Errorf("no served CRD version for %s", key)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	return s.Validate(v)
}

// checkCustomResources validates every recorded object of the given Kubernetes custom kinds
// (type tokens like "kubernetes:kafka.strimzi.io/v1:Kafka") and returns how many it checked.
func checkCustomResources(t *testing.T, m *mocks, types ...string) int {
	t.Helper()
	schemas := loadCRDs(t)
	n := 0
	for _, typ := range types {
		for _, r := range m.ofType(typ) {
			obj := plain(r.Inputs)
			if err := schemas.validate(obj); err != nil {
				t.Errorf("%s %s does not match its CRD schema: %v", typ, r.Name, err)
			}
			strictDecodeValue(t, typ+" "+r.Name+" metadata", obj["metadata"], &metav1.ObjectMeta{})
			n++
		}
	}
	return n
}

// plain turns recorded inputs into the JSON-like object the provider would send, secrets
// unwrapped, unknowns as nil.
func plain(pm resource.PropertyMap) map[string]any {
	out := map[string]any{}
	for k, v := range pm {
		out[string(k)] = plainValue(v)
	}
	return out
}

func plainValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plainValue(v.SecretValue().Element)
	case v.IsOutput():
		return plainValue(v.OutputValue().Element)
	case v.IsObject():
		return plain(v.ObjectValue())
	case v.IsArray():
		out := make([]any, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = plainValue(e)
		}
		return out
	case v.IsComputed(), v.IsNull():
		return nil
	}
	return v.V
}

func TestCRDSchemaRejectsUnknownAndMisplacedFields(t *testing.T) {
	schemas := loadCRDs(t)
	good := map[string]any{
		"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
		"metadata": map[string]any{"name": "t", "labels": map[string]any{"strimzi.io/cluster": "events"}},
		"spec":     map[string]any{"partitions": 3, "replicas": 3, "config": map[string]any{"retention.ms": 1000}},
	}
	if err := schemas.validate(good); err != nil {
		t.Fatalf("a valid KafkaTopic is rejected: %v", err)
	}
	tests := []struct {
		name string
		give map[string]any
	}{
		{"unknown spec field", map[string]any{"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
			"spec": map[string]any{"partitions": 3, "retentionMs": 1000}}},
		{"wrong type", map[string]any{"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
			"spec": map[string]any{"partitions": "three"}}},
		{"value outside enum", map[string]any{"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaUser",
			"spec": map[string]any{"authentication": map[string]any{"type": "plain"}}}},
		{"missing required", map[string]any{"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaNodePool",
			"spec": map[string]any{"replicas": 1}}},
		{"version not served", map[string]any{"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka",
			"spec": map[string]any{}}},
		{"unknown field in CNPG Cluster", map[string]any{"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
			"spec": map[string]any{"instances": 1, "storage": map[string]any{"size": "1Gi", "storageclass": "gp3"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := schemas.validate(tt.give); err == nil {
				t.Errorf("accepted %v", tt.give)
			}
		})
	}
}
