package tests

import (
	"encoding/json"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	istionetworking "istio.io/api/networking/v1alpha3"
	istiosecurity "istio.io/api/security/v1beta1"
	istiotelemetry "istio.io/api/telemetry/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork/groundwork/platform"
)

// builtIn are the Kubernetes kinds the platform layer creates, with the k8s.io/api type each is
// strictly decoded into.
var builtIn = map[string]func() any{
	"kubernetes:core/v1:Namespace":      func() any { return &corev1.Namespace{} },
	"kubernetes:core/v1:ResourceQuota":  func() any { return &corev1.ResourceQuota{} },
	"kubernetes:core/v1:LimitRange":     func() any { return &corev1.LimitRange{} },
	"kubernetes:core/v1:Secret":         func() any { return &corev1.Secret{} },
	"kubernetes:core/v1:Service":        func() any { return &corev1.Service{} },
	"kubernetes:core/v1:ConfigMap":      func() any { return &corev1.ConfigMap{} },
	"kubernetes:core/v1:ServiceAccount": func() any { return &corev1.ServiceAccount{} },
	"kubernetes:autoscaling/v2:HorizontalPodAutoscaler": func() any {
		return &autoscalingv2.HorizontalPodAutoscaler{}
	},
	"kubernetes:apps/v1:Deployment":                  func() any { return &appsv1.Deployment{} },
	"kubernetes:batch/v1:Job":                        func() any { return &batchv1.Job{} },
	"kubernetes:apps/v1:StatefulSet":                 func() any { return &appsv1.StatefulSet{} },
	"kubernetes:networking.k8s.io/v1:NetworkPolicy":  func() any { return &networkingv1.NetworkPolicy{} },
	"kubernetes:networking.k8s.io/v1:Ingress":        func() any { return &networkingv1.Ingress{} },
	"kubernetes:networking.k8s.io/v1:IngressClass":   func() any { return &networkingv1.IngressClass{} },
	"kubernetes:storage.k8s.io/v1:StorageClass":      func() any { return &storagev1.StorageClass{} },
	"kubernetes:policy/v1:PodDisruptionBudget":       func() any { return &policyv1.PodDisruptionBudget{} },
	"kubernetes:monitoring.coreos.com/v1:PodMonitor": func() any { return &monitoringv1.PodMonitor{} },
	"kubernetes:monitoring.coreos.com/v1:PrometheusRule": func() any {
		return &monitoringv1.PrometheusRule{}
	},
	"kubernetes:monitoring.coreos.com/v1:ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
}

// istioSpecs are the Istio kinds, with the proto message of their spec: Istio's Go types decode
// specs leniently, so the spec is checked with protojson, which rejects unknown fields.
var istioSpecs = map[string]func() proto.Message{
	"kubernetes:security.istio.io/v1:PeerAuthentication": func() proto.Message { return &istiosecurity.PeerAuthentication{} },
	"kubernetes:telemetry.istio.io/v1:Telemetry":         func() proto.Message { return &istiotelemetry.Telemetry{} },
	"kubernetes:networking.istio.io/v1:Gateway":          func() proto.Message { return &istionetworking.Gateway{} },
	"kubernetes:networking.istio.io/v1:VirtualService":   func() proto.Message { return &istionetworking.VirtualService{} },
	"kubernetes:networking.istio.io/v1:DestinationRule":  func() proto.Message { return &istionetworking.DestinationRule{} },
}

// crdKinds are checked against the CRD schemas the pinned operator charts ship (crdFiles).
var crdKinds = []string{
	"kubernetes:configuration.konghq.com/v1:KongPlugin",
	"kubernetes:configuration.konghq.com/v1:KongClusterPlugin",
	"kubernetes:configuration.konghq.com/v1:KongConsumer",
	"kubernetes:kafka.strimzi.io/v1:Kafka",
	"kubernetes:kafka.strimzi.io/v1:KafkaNodePool",
	"kubernetes:kafka.strimzi.io/v1:KafkaTopic",
	"kubernetes:kafka.strimzi.io/v1:KafkaUser",
	"kubernetes:postgresql.cnpg.io/v1:Cluster",
	"kubernetes:postgresql.cnpg.io/v1:ScheduledBackup",
	"kubernetes:cert-manager.io/v1:Issuer",
	"kubernetes:cert-manager.io/v1:Certificate",
}

func TestEveryKubernetesObjectMatchesItsUpstreamAPI(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			checked := map[string]int{}
			for _, r := range m.programObjects() {
				if newObj, ok := builtIn[r.Type]; ok {
					strictDecode(t, r, newObj())
					checked[r.Type]++
					continue
				}
				if newSpec, ok := istioSpecs[r.Type]; ok {
					obj := plain(r.Inputs)
					strictDecodeValue(t, r.Type+" "+r.Name+" metadata", obj["metadata"], &metav1.ObjectMeta{})
					raw, err := json.Marshal(obj["spec"])
					require.NoError(t, err)
					if err := protojson.Unmarshal(raw, newSpec()); err != nil {
						t.Errorf("%s %s: spec is not valid: %v", r.Type, r.Name, err)
					}
					checked[r.Type]++
				}
			}
			t.Run("custom kinds against their CRD schemas", func(t *testing.T) {
				for _, typ := range crdKinds {
					checkCustomResources(t, m, typ)
				}
			})
			// Nothing escapes: every object's kind is one of the checked ones.
			for _, r := range m.programObjects() {
				_, b := builtIn[r.Type]
				_, i := istioSpecs[r.Type]
				c := false
				for _, k := range crdKinds {
					c = c || k == r.Type
				}
				assert.Truef(t, b || i || c, "%s %s has no upstream definition to check it against", r.Type, r.Name)
			}
			assert.Positive(t, checked["kubernetes:core/v1:Namespace"])
			assert.Positive(t, checked["kubernetes:security.istio.io/v1:PeerAuthentication"])
			assert.Positive(t, checked["kubernetes:monitoring.coreos.com/v1:PrometheusRule"])
			t.Logf("checked against upstream definitions: %v", checked)
		})
	}
}

// TestStrictDecodingCatchesAMisspelledField proves the check can fail: a field the upstream type
// does not have is reported.
func TestStrictDecodingCatchesAMisspelledField(t *testing.T) {
	raw := []byte(`{"mtls":{"mood":"STRICT"}}`)
	assert.Error(t, protojson.Unmarshal(raw, &istiosecurity.PeerAuthentication{}))
	dec := json.NewDecoder(strings.NewReader(`{"spec":{"groupz":[]}}`))
	dec.DisallowUnknownFields()
	assert.Error(t, dec.Decode(&monitoringv1.PrometheusRule{}), "an unknown field in a PrometheusRule must be rejected")
}
