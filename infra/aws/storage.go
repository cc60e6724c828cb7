package aws

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// storageClass makes encrypted gp3 EBS volumes the cluster default. EKS marks no class default
// since Kubernetes 1.30, and its gp2 class is unencrypted.
func (b *builder) storageClass(provider *kubernetes.Provider, name string, csi pulumi.Resource) error {
	reclaim := "Delete"
	if b.args.Protect {
		reclaim = "Retain"
	}
	_, err := storagev1.NewStorageClass(b.ctx, b.name+"-"+name, &storagev1.StorageClassArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(name),
			Annotations: pulumi.StringMap{"storageclass.kubernetes.io/is-default-class": pulumi.String("true")},
			Labels:      b.args.Tags.Labels("infra"),
		},
		Provisioner:          pulumi.String("ebs.csi.aws.com"),
		Parameters:           pulumi.StringMap{"type": pulumi.String("gp3"), "encrypted": pulumi.String("true"), "csi.storage.k8s.io/fstype": pulumi.String("ext4")},
		VolumeBindingMode:    pulumi.String("WaitForFirstConsumer"),
		AllowVolumeExpansion: pulumi.Bool(true),
		ReclaimPolicy:        pulumi.String(reclaim),
	}, b.opts(pulumi.Provider(provider), pulumi.DependsOn([]pulumi.Resource{csi}))...)
	return err
}
