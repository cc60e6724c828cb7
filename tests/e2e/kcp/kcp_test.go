package kcp_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/groundwork/groundwork/tests/e2e/kcp"
)

func TestControlPlane(t *testing.T) {
	c := kcp.StartT(t, kcp.Options{Zones: []string{"a", "b", "c"}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cs := c.Client
	create := metav1.CreateOptions{}

	// The nodes: one per zone, Ready, labelled.
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var zones []string
	for _, n := range nodes.Items {
		zones = append(zones, n.Labels["topology.kubernetes.io/zone"])
	}
	sort.Strings(zones)
	if strings.Join(zones, ",") != "a,b,c" {
		t.Fatalf("node zones = %v, want a,b,c", zones)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.GitVersion != kcp.KubernetesVersion {
		t.Fatalf("server version = %v, %v; want %s", v, err, kcp.KubernetesVersion)
	}

	const ns = "demo"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, create); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	pod := corev1.PodSpec{Containers: []corev1.Container{{
		Name: "web", Image: "registry.example/web:1",
		Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
		}},
	}}}

	// A Deployment of 2 replicas spread over the zones, and its Service.
	spread := pod.DeepCopy()
	spread.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
	}}
	replicas := int32(2)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: *spread},
		},
	}, create); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{
			Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080),
		}}},
	}, create); err != nil {
		t.Fatal(err)
	}

	// A Job that completes.
	job := pod.DeepCopy()
	job.RestartPolicy = corev1.RestartPolicyNever
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
		Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: *job}},
	}, create); err != nil {
		t.Fatal(err)
	}

	// A StatefulSet whose claim the harness's provisioner binds.
	dbLabels := map[string]string{"app": "db"}
	db := pod.DeepCopy()
	db.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	one := int32(1)
	if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &one, ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: dbLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: dbLabels}, Spec: *db},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}, create); err != nil {
		t.Fatal(err)
	}

	// A DaemonSet: a pod on every node.
	agentLabels := map[string]string{"app": "agent"}
	if _, err := cs.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: agentLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: agentLabels}, Spec: *pod.DeepCopy()},
		},
	}, create); err != nil {
		t.Fatal(err)
	}

	// A CRD, Established; a custom resource its schema refuses; one it accepts.
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := c.Dynamic.Resource(crdGVR).Create(ctx, mustUnstructured(t, widgetCRD), create); err != nil {
		t.Fatal(err)
	}

	waitFor(ctx, t, "Deployment web 2/2 Ready", func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 2 || d.Status.UpdatedReplicas != 2 {
			return fmt.Errorf("ready %d, updated %d", d.Status.ReadyReplicas, d.Status.UpdatedReplicas)
		}
		return nil
	})
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	podIPs, podZones := map[string]bool{}, map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.Spec.NodeName == "" {
			t.Fatalf("pod %s: IP %q on node %q", p.Name, p.Status.PodIP, p.Spec.NodeName)
		}
		n, err := cs.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		podIPs[p.Status.PodIP] = true
		podZones[n.Labels["topology.kubernetes.io/zone"]] = true
	}
	if len(podIPs) != 2 || len(podZones) != 2 {
		t.Fatalf("web pods: IPs %v in zones %v, want 2 IPs in 2 zones", podIPs, podZones)
	}

	waitFor(ctx, t, "EndpointSlice of Service web with both pod IPs", func() error {
		slices, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return err
		}
		got := map[string]bool{}
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					for _, a := range e.Addresses {
						got[a] = true
					}
				}
			}
		}
		for ip := range podIPs {
			if !got[ip] {
				return fmt.Errorf("ready endpoints %v lack %s", got, ip)
			}
		}
		return nil
	})

	waitFor(ctx, t, "Job migrate Complete", func() error {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", j.Status.Conditions)
	})

	waitFor(ctx, t, "StatefulSet db 1/1 Ready, its claim Bound", func() error {
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return err
		}
		pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-db-0", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pvc.Status.Phase != corev1.ClaimBound || s.Status.ReadyReplicas != 1 {
			return fmt.Errorf("claim %s, ready replicas %d", pvc.Status.Phase, s.Status.ReadyReplicas)
		}
		return nil
	})
	pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != c.StorageClass {
		t.Fatalf("claim's StorageClass = %v, want the default %q", pvc.Spec.StorageClassName, c.StorageClass)
	}
	// The PV is pinned to the zone of the node the scheduler chose, as a CSI driver's would be.
	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dbPod, err := cs.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dbNode, err := cs.CoreV1().Nodes().Get(ctx, dbPod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := pv.Spec.NodeAffinity; a == nil || a.Required == nil || len(a.Required.NodeSelectorTerms) != 1 ||
		len(a.Required.NodeSelectorTerms[0].MatchExpressions) != 1 ||
		a.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != dbNode.Labels["topology.kubernetes.io/zone"] {
		t.Fatalf("PV %s node affinity %+v, want the zone of node %s", pv.Name, pv.Spec.NodeAffinity, dbNode.Name)
	}

	waitFor(ctx, t, "DaemonSet agent Ready on every node", func() error {
		d, err := cs.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.DesiredNumberScheduled != int32(len(c.Nodes)) || d.Status.NumberReady != d.Status.DesiredNumberScheduled {
			return fmt.Errorf("desired %d, ready %d", d.Status.DesiredNumberScheduled, d.Status.NumberReady)
		}
		return nil
	})

	waitFor(ctx, t, "CRD widgets.example.com Established", func() error {
		crd, err := c.Dynamic.Resource(crdGVR).Get(ctx, "widgets.example.com", metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", conds)
	})
	widgets := c.Dynamic.Resource(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}).Namespace(ns)
	waitFor(ctx, t, "a valid Widget accepted", func() error {
		_, err := widgets.Create(ctx, mustUnstructured(t, widgetOK), create)
		return err
	})
	_, err = widgets.Create(ctx, mustUnstructured(t, widgetBad), create)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a Widget its schema refuses: err = %v, want Invalid", err)
	}
	for _, want := range []string{"spec.size", "spec.color", `Unsupported value: "purple"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %s", err, want)
		}
	}
	_, err = widgets.Create(ctx, mustUnstructured(t, widgetCEL), create)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "big widgets cannot be red") {
		t.Errorf("a Widget its CEL rule refuses: err = %v, want Invalid naming the rule's message", err)
	}

	testWebhookStandIn(ctx, t, c, ns)

	// Deleting the namespace finalises everything in it, the claim's PV included (PVC
	// protection, then the provisioner reclaims the Released PV).
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "namespace demo and the PV gone", func() error {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace: %v", err)
		}
		if _, err := cs.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("PV %s: %v", pv.Name, err)
		}
		return nil
	})

	if rss, err := c.RSS(); err == nil {
		var total int64
		var parts []string
		for name, b := range rss {
			total += b
			parts = append(parts, fmt.Sprintf("%s %d MB", name, b>>20))
		}
		sort.Strings(parts)
		t.Logf("RSS: %s; %d MB in all", strings.Join(parts, ", "), total>>20)
	}

	pids := c.Pids()
	c.Stop()
	for _, pid := range pids {
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d still there after Stop (kill -0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("cluster folder %s still there after Stop (%v)", c.Dir, err)
	}
}

// testWebhookStandIn: a Service-backed webhook with failurePolicy Fail is refused through the
// egress proxy (no pod serves it), then answered by the stand-in once MapWebhooks maps its
// Service, over TLS the API server verifies.
func testWebhookStandIn(ctx context.Context, t *testing.T, c *kcp.Cluster, ns string) {
	cs := c.Client
	create := metav1.CreateOptions{}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hook"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "hook"}, Ports: []corev1.ServicePort{{
			Port: 443, TargetPort: intstr.FromInt32(9443),
		}}},
	}, create); err != nil {
		t.Fatal(err)
	}
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	path := "/validate"
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "hook"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "hook.example.com",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "hook", Path: &path}},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"hooked": "true"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}, create); err != nil {
		t.Fatal(err)
	}
	cm := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"hooked": "true"}}}
	}
	// Unmapped, the call is refused by the egress proxy: the webhook fails closed.
	waitFor(ctx, t, "the unmapped webhook refusing a ConfigMap", func() error {
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm("before"), create)
		if err == nil {
			_ = cs.CoreV1().ConfigMaps(ns).Delete(ctx, "before", metav1.DeleteOptions{})
			return fmt.Errorf("admitted (webhook configuration not in effect yet?)")
		}
		if !strings.Contains(err.Error(), "403") {
			t.Fatalf("unmapped webhook: err = %v, want the egress proxy's 403", err)
		}
		return nil
	})
	if refused := c.RefusedEgress(); len(refused) == 0 {
		t.Errorf("the egress proxy recorded no refusal")
	}

	w, err := c.StartWebhookServer()
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := c.MapWebhooks(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if want := ns + "/hook:443"; len(mapped) != 1 || mapped[0] != want {
		t.Fatalf("MapWebhooks mapped %v, want [%s]", mapped, want)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm("after"), create); err != nil {
		t.Fatalf("mapped webhook: %v", err)
	}
	reqs := w.Requests()
	if len(reqs) != 1 || reqs[0].Name != "after" || reqs[0].Path != path || reqs[0].ServerName != "hook."+ns+".svc" {
		t.Fatalf("stand-in recorded %+v, want one CREATE of ConfigMap after at %s for hook.%s.svc", reqs, path, ns)
	}
}

func waitFor(ctx context.Context, t *testing.T, what string, fn func() error) {
	t.Helper()
	start := time.Now()
	for {
		err := fn()
		if err == nil {
			t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s: %v", what, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func mustUnstructured(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(y), 4096).Decode(&u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              color: {type: string, enum: [red, green, blue]}
            x-kubernetes-validations:
            - rule: "self.size < 5 || self.color != 'red'"
              message: "big widgets cannot be red"
`

const widgetOK = `
apiVersion: example.com/v1
kind: Widget
metadata: {name: ok}
spec: {size: 3, color: red}
`

const widgetBad = `
apiVersion: example.com/v1
kind: Widget
metadata: {name: bad}
spec: {size: 42, color: purple}
`

const widgetCEL = `
apiVersion: example.com/v1
kind: Widget
metadata: {name: big-red}
spec: {size: 7, color: red}
`

// TestStartFailure: a process that dies during the start fails Start with its name and its
// log's last lines, and leaves nothing running.
func TestStartFailure(t *testing.T) {
	built, err := kcp.BinDir()
	if err != nil {
		if errors.Is(err, kcp.ErrNotBuilt) && os.Getenv("CI") != "true" {
			t.Skipf("skipping: %v", err)
		}
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, b := range kcp.Binaries {
		if err := os.Symlink(filepath.Join(built, b), filepath.Join(bin, b)); err != nil {
			t.Fatal(err)
		}
	}
	broken := filepath.Join(bin, "kube-apiserver")
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'E1207 something is badly wrong'\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A folder whose egress socket path would not fit a sockaddr_un (108 bytes).
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	c, err := kcp.Start(ctx, kcp.Options{BinDir: bin, Dir: dir, Logf: t.Logf})
	if err == nil {
		c.Stop()
		t.Fatal("Start succeeded with a kube-apiserver that exits")
	}
	for _, want := range []string{"kube-apiserver", "exit status 3", "something is badly wrong", "kube-apiserver.log"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	t.Logf("Start: %v", err)
}
