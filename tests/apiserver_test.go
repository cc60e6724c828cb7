package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/tests/e2e/kcp"
)

// existingSecrets are the settings existingStack sets that are secrets.
var existingSecrets = []string{"groundwork:existing", "groundwork:kubeconfig"}

// existingStack is a stack file's settings on `cloud: existing` (the README's local-cluster
// recipe) with the given kubeconfig and the zones of the cluster's nodes.
func existingStack(t *testing.T, stack string, kubeconfig []byte, zones []string) map[string]string {
	t.Helper()
	cfg := stackConfig(t, stack)
	cfg["groundwork:cloud"] = "existing"
	cfg["groundwork:data"] = `{"managed":false}`
	cfg["groundwork:kubernetes"] = `{"version":"1.34.2"}`
	cfg["groundwork:kubeconfig"] = string(kubeconfig)
	z, err := json.Marshal(zones)
	require.NoError(t, err)
	cfg["groundwork:existing"] = `{"nodeCidrs":["10.0.0.0/24"],"zones":` + string(z) + `,` +
		`"objectStorage":{"endpoint":"https://minio.example.com","accessKeyId":"AKIAEXAMPLE","secretAccessKey":"s3cr3t",` +
		`"buckets":{"traces":"groundwork-traces","logs":"groundwork-logs","backups":"groundwork-backups"}}}`
	return cfg
}

// kubeObjects are the Kubernetes objects a run registered, as the provider would send them:
// each resource's inputs, with its Pulumi name for messages. An input still unknown (an output
// the mocks cannot give) is an error naming it.
func kubeObjects(t *testing.T, m *mocks) (objs []*unstructured.Unstructured, names map[*unstructured.Unstructured]string) {
	t.Helper()
	names = map[*unstructured.Unstructured]string{}
	for _, r := range m.resources {
		if !r.Custom || !strings.HasPrefix(r.Type, "kubernetes:") || strings.HasPrefix(r.Type, "kubernetes:helm") || r.Type == "pulumi:providers:kubernetes" {
			continue
		}
		if r.Inputs.ContainsUnknowns() {
			t.Errorf("%s %s: inputs unknown at apply time", r.Type, r.Name)
			continue
		}
		in := resource.NewObjectProperty(r.Inputs).MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
			if v.IsSecret() {
				return v.SecretValue().Element.Mappable(), true
			}
			return nil, false
		}).(map[string]any)
		u := &unstructured.Unstructured{Object: in}
		objs = append(objs, u)
		names[u] = r.Type + " " + r.Name
	}
	return objs, names
}

// TestTheAPIServerAcceptsEveryObject sends every Kubernetes object dev and prod register on
// `cloud: existing` to a real kube-apiserver (v1.34.2, the stacks' version) by server-side
// apply, in the order a deploy meets them: CRDs first, each Established before its custom
// resources, then namespaces, then the rest, with the admission webhooks the charts install
// answered by an allow-all stand-in (no pod serves them here). What the API server refuses
// (field formats, CRD schemas and CEL rules, immutable fields, admission) fails the test with
// its message. A second apply of the same objects changes nothing (what the server defaults
// is not fought over).
func TestTheAPIServerAcceptsEveryObject(t *testing.T) {
	needCharts(t)
	for _, tt := range []struct {
		stack string
		zones []string
	}{{"dev", []string{"nova"}}, {"prod", []string{"zone-a", "zone-b", "zone-c"}}} {
		t.Run(tt.stack, func(t *testing.T) {
			c := kcp.StartT(t, kcp.Options{Zones: tt.zones})
			hooks, err := c.StartWebhookServer()
			require.NoError(t, err)
			m, err := run(t, tt.stack, existingStack(t, tt.stack, c.Kubeconfig, tt.zones), existingSecrets, platform.Run)
			require.NoError(t, err)
			objs, names := kubeObjects(t, m)
			require.NotEmpty(t, objs)

			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
			// resourceFor is the API's client for an object's kind, in its namespace where the
			// kind is namespaced (the provider's default namespace where it names none).
			resourceFor := func(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
				gvk := u.GroupVersionKind()
				mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					return nil, err
				}
				ri := c.Dynamic.Resource(mapping.Resource)
				if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
					return ri, nil
				}
				ns := u.GetNamespace()
				if ns == "" {
					ns = "default"
				}
				return ri.Namespace(ns), nil
			}
			apply := func(u *unstructured.Unstructured) error {
				ri, err := resourceFor(u)
				if err != nil {
					return err
				}
				data, err := json.Marshal(u.Object)
				if err != nil {
					return err
				}
				force := true
				_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "pulumi-kubernetes", Force: &force})
				return err
			}

			// CRDs, then wait for each to be Established.
			var crds, nss, rest []*unstructured.Unstructured
			for _, u := range objs {
				switch u.GetKind() {
				case "CustomResourceDefinition":
					crds = append(crds, u)
				case "Namespace":
					nss = append(nss, u)
				default:
					rest = append(rest, u)
				}
			}
			for _, u := range slices.Concat(crds, nss) {
				require.NoError(t, apply(u), "%s", names[u])
			}
			crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
			for _, u := range crds {
				require.NoError(t, waitFor(ctx, func() (bool, error) {
					got, err := c.Dynamic.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
					if err != nil {
						return false, err
					}
					conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
					for _, cond := range conds {
						cm, _ := cond.(map[string]any)
						if cm["type"] == "Established" && cm["status"] == "True" {
							return true, nil
						}
					}
					return false, nil
				}), "CRD %s is Established", u.GetName())
			}
			mapper.Reset()

			// The rest, in rounds: an object refused because what it needs is not there yet
			// (a webhook's Service) is tried again; the stand-in answers every webhook whose
			// Service exists. Rounds end when a round applies nothing new.
			pending := rest
			refused := map[*unstructured.Unstructured]error{}
			for round := 0; len(pending) > 0 && round < 5; round++ {
				if _, err := c.MapWebhooks(ctx, hooks); err != nil {
					t.Fatal(err)
				}
				var next []*unstructured.Unstructured
				for _, u := range pending {
					if err := apply(u); err != nil {
						refused[u] = err
						next = append(next, u)
						continue
					}
					delete(refused, u)
				}
				if len(next) == len(pending) {
					break
				}
				pending = next
			}
			for _, u := range pending {
				t.Errorf("the API server refuses %s (%s %s/%s): %v", names[u], u.GetKind(), u.GetNamespace(), u.GetName(), refused[u])
			}
			t.Logf("%d objects applied (%d CRDs, %d namespaces); %d webhook calls answered by the stand-in",
				len(objs)-len(pending), len(crds), len(nss), len(hooks.Requests()))
			if refusedEgress := c.RefusedEgress(); len(refusedEgress) > 0 {
				slices.Sort(refusedEgress)
				t.Logf("calls the egress proxy refused (nothing left this host; webhooks with failurePolicy Ignore called before their Service existed): %v", slices.Compact(refusedEgress))
			}
			if t.Failed() {
				return
			}

			// The custom resources are held to their live CRDs: one of the stack's own
			// PrometheusRules with a field of the wrong type is refused.
			i := slices.IndexFunc(objs, func(u *unstructured.Unstructured) bool { return u.GetKind() == "PrometheusRule" })
			require.GreaterOrEqual(t, i, 0, "the stack has PrometheusRules")
			broken := objs[i].DeepCopy()
			broken.SetName(broken.GetName() + "-broken")
			require.NoError(t, unstructured.SetNestedField(broken.Object, "not a list", "spec", "groups"))
			err = apply(broken)
			require.Error(t, err, "a PrometheusRule whose spec.groups is a string")
			require.Contains(t, err.Error(), ".spec.groups: expected list")

			// Every workload the stack runs comes up: Deployments, StatefulSets (their claims
			// bound) and DaemonSets Ready, Jobs complete.
			require.NoError(t, waitFor(ctx, func() (bool, error) {
				notReady, err := workloadsNotReady(ctx, c, objs)
				if len(notReady) > 0 && ctx.Err() == nil {
					return false, fmt.Errorf("not ready: %v", notReady)
				}
				return len(notReady) == 0, err
			}), "every workload of the stack is Ready")

			// A second apply of the same objects leaves every one as it was.
			for _, u := range objs {
				ri, err := resourceFor(u)
				require.NoError(t, err)
				get := func() (*unstructured.Unstructured, error) { return ri.Get(ctx, u.GetName(), metav1.GetOptions{}) }
				before, err := get()
				if apierrors.IsNotFound(err) {
					continue // deleted by its owner's controller (a completed Job's pods, ...)
				}
				require.NoError(t, err, names[u])
				require.NoError(t, apply(u), names[u])
				after, err := get()
				require.NoError(t, err, names[u])
				if before.GetResourceVersion() != after.GetResourceVersion() && before.GetGeneration() != after.GetGeneration() {
					t.Errorf("%s: a second apply of the same object changes its spec (generation %d -> %d)", names[u], before.GetGeneration(), after.GetGeneration())
				}
			}
		})
	}
}

// waitFor polls fn every 200 ms until it says done or ctx ends.
func waitFor(ctx context.Context, fn func() (bool, error)) error {
	var last error
	for {
		ok, err := fn()
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// workloadsNotReady names the stack's Deployments, StatefulSets and DaemonSets that are not Ready
// with all their replicas on the current spec, and its Jobs that have not completed.
func workloadsNotReady(ctx context.Context, c *kcp.Cluster, objs []*unstructured.Unstructured) ([]string, error) {
	var out []string
	for _, u := range objs {
		ns, name := u.GetNamespace(), u.GetName()
		id := u.GetKind() + " " + ns + "/" + name
		switch u.GetKind() {
		case "Deployment":
			d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return out, err
			}
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas < want || d.Status.ReadyReplicas < want {
				out = append(out, fmt.Sprintf("%s (%d/%d ready)", id, d.Status.ReadyReplicas, want))
			}
		case "StatefulSet":
			s, err := c.Client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return out, err
			}
			want := int32(1)
			if s.Spec.Replicas != nil {
				want = *s.Spec.Replicas
			}
			if s.Status.ObservedGeneration < s.Generation || s.Status.ReadyReplicas < want {
				out = append(out, fmt.Sprintf("%s (%d/%d ready)", id, s.Status.ReadyReplicas, want))
			}
		case "DaemonSet":
			d, err := c.Client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return out, err
			}
			if d.Status.DesiredNumberScheduled == 0 || d.Status.NumberReady < d.Status.DesiredNumberScheduled {
				out = append(out, fmt.Sprintf("%s (%d/%d ready)", id, d.Status.NumberReady, d.Status.DesiredNumberScheduled))
			}
		case "Job":
			j, err := c.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return out, err
			}
			if j.Status.Succeeded == 0 {
				out = append(out, id+" (not complete)")
			}
		}
	}
	return out, nil
}
