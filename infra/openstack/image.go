package openstack

import (
	"fmt"
	"slices"
	"strings"
)

// checkImage holds the node image to what the driver reads from it before anything is created:
// Magnum picks the driver by the image's os_distro, and magnum-capi-helm takes the Kubernetes
// version from its kube_version property (magnum_capi_helm/driver.py, _get_kube_version and
// _get_os_distro), so a Fedora CoreOS image would pick the Heat driver and an image built for
// another version would deploy that version.
func checkImage(name string, props map[string]any, version string) error {
	distro, _ := props["os_distro"].(string)
	kube, _ := props["kube_version"].(string)
	var problems []string
	if !slices.Contains(ImageDistros, distro) {
		problems = append(problems, fmt.Sprintf("os_distro %q; allowed: %s (Magnum's %s driver)", distro, strings.Join(ImageDistros, ", "), Driver))
	}
	if strings.TrimPrefix(kube, "v") != version {
		problems = append(problems, fmt.Sprintf("kube_version %q; want %q (groundwork:kubernetes.version)", kube, "v"+version))
	}
	if len(problems) > 0 {
		return fmt.Errorf("groundwork:openstack.image: %q has %s: use an image built for the driver and this Kubernetes version (azimuth-cloud/azimuth-images' Kubernetes images carry both properties)", name, strings.Join(problems, " and "))
	}
	return nil
}
