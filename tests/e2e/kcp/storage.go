package kcp

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// The harness is the external provisioner of the cluster's StorageClass, as the EBS or Cinder
// CSI driver is on a cloud: binding mode WaitForFirstConsumer, so the scheduler picks a node
// first (annotation volume.kubernetes.io/selected-node); the provisioner then creates a PV for
// the claim, pre-bound to it (claimRef) and pinned to the node's zone, which the PV controller
// of kube-controller-manager binds. PVs of deleted claims (Released, reclaim policy Delete) are
// deleted. The volumes are hostPath PVs that no kubelet ever mounts.
const (
	annSelectedNode   = "volume.kubernetes.io/selected-node"
	annProvisionedBy  = "pv.kubernetes.io/provisioned-by"
	annDefaultClass   = "storageclass.kubernetes.io/is-default-class"
	zoneLabel         = "topology.kubernetes.io/zone"
	provisionerResync = 2 * time.Second
)

func (c *Cluster) startProvisioner(ctx, bg context.Context) error {
	waitMode := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: c.StorageClass, Annotations: map[string]string{annDefaultClass: "true"}},
		Provisioner:       provisionerKey,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &waitMode,
	}
	if _, err := c.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating StorageClass %s: %w", c.StorageClass, err)
	}

	f := informers.NewSharedInformerFactory(c.Client, provisionerResync)
	pvcs := f.Core().V1().PersistentVolumeClaims().Informer()
	pvs := f.Core().V1().PersistentVolumes().Informer()
	onPVC := func(obj any) {
		if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			c.provision(bg, pvc)
		}
	}
	onPV := func(obj any) {
		if pv, ok := obj.(*corev1.PersistentVolume); ok {
			c.reclaim(bg, pv)
		}
	}
	if _, err := pvcs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPVC, UpdateFunc: func(_, obj any) { onPVC(obj) },
	}); err != nil {
		return err
	}
	if _, err := pvs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPV, UpdateFunc: func(_, obj any) { onPV(obj) },
	}); err != nil {
		return err
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		f.Start(bg.Done())
		<-bg.Done()
		f.Shutdown()
	}()
	return nil
}

// provision creates the PV for a claim of the cluster's StorageClass once its node is chosen.
func (c *Cluster) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) {
	if pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != c.StorageClass {
		return
	}
	node := pvc.Annotations[annSelectedNode]
	if node == "" {
		return // WaitForFirstConsumer: not scheduled yet
	}
	name := "pvc-" + string(pvc.UID)
	size, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		size = resource.MustParse("1Gi")
	}
	modes := pvc.Spec.AccessModes
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisionedBy: provisionerKey}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   modes,
			VolumeMode:                    pvc.Spec.VolumeMode,
			StorageClassName:              c.StorageClass,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/groundwork-e2e/volumes/" + name},
			},
		},
	}
	if n, err := c.Client.CoreV1().Nodes().Get(ctx, node, getOpts); err == nil && n.Labels[zoneLabel] != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: zoneLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{n.Labels[zoneLabel]},
			}}}},
		}}
	}
	if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
		c.logf("provisioner: creating PV %s for %s/%s: %v (retried)", name, pvc.Namespace, pvc.Name, err)
	}
}

// reclaim deletes a PV this provisioner made once its claim is gone.
func (c *Cluster) reclaim(ctx context.Context, pv *corev1.PersistentVolume) {
	if pv.Annotations[annProvisionedBy] != provisionerKey || pv.DeletionTimestamp != nil ||
		pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return
	}
	err := c.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		c.logf("provisioner: deleting PV %s: %v (retried)", pv.Name, err)
	}
}
