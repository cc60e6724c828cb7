package platform

import (
	"errors"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/image"
	"github.com/groundwork/groundwork/services"
)

// ServiceConfig is one entry of groundwork:services: what a stack changes about one service of
// services/ at deploy time.
type ServiceConfig struct {
	// Canary runs a second version of the service beside the stable one and sends it a share
	// of the requests through the mesh. Optional.
	Canary *CanaryConfig `json:"canary"`
}

// CanaryConfig is groundwork:services.<name>.canary.
type CanaryConfig struct {
	// Version is the canary's image, by tag or sha256 digest, in the service's repository.
	Version string `json:"version"`
	// Weight is the percentage of requests the canary gets, 0-100 (0 deploys it dark).
	Weight *int `json:"weight"`
}

// validateServiceSettings checks groundwork:services on its own; serviceSettingsMatch checks
// it against services/.
func (c *Config) validateServiceSettings(p *problems) {
	for _, name := range sortedKeys(c.Services) {
		key := "services." + name
		if !dnsLabel.MatchString(name) {
			p.add(key, "%q is not a service name (a folder of %s)", name, c.ServicesDir)
		}
		cn := c.Services[name].Canary
		if cn == nil {
			continue
		}
		if cn.Version == "" {
			p.add(key+".canary.version", "required: the canary's image tag or sha256 digest")
		} else if _, err := image.Prebuilt(pulumi.String("r"), cn.Version); err != nil {
			p.add(key+".canary.version", "%v", err)
		}
		switch w := cn.Weight; {
		case w == nil:
			p.add(key+".canary.weight", "required: the percentage of requests the canary gets, 0 to 100")
		case *w < 0 || *w > 100:
			p.add(key+".canary.weight", "%d is out of range; allowed 0 to 100 (percent of requests)", *w)
		}
	}
}

// serviceSettingsMatch reports settings for services that services/ does not have.
func serviceSettingsMatch(cfg *Config, specs []services.Spec) error {
	var p problems
	have := make([]string, len(specs))
	for i, s := range specs {
		have[i] = s.Name
	}
	slices.Sort(have)
	for _, name := range sortedKeys(cfg.Services) {
		if !slices.Contains(have, name) {
			p.add("services."+name, "no service %q in %s; services: %s", name, cfg.ServicesDir, join(have))
		}
	}
	for _, name := range sortedKeys(cfg.Images.Versions) {
		if !slices.Contains(have, name) {
			p.add("images.versions."+name, "no service %q in %s; services: %s", name, cfg.ServicesDir, join(have))
		}
	}
	return errors.Join(p...)
}

// DefaultRunbookURL is the runbooks file of this repository, which every alert links a section
// of; a fork sets groundwork:alerting.runbookUrl to its own copy.
const DefaultRunbookURL = "https://github.com/groundwork/groundwork/blob/main/RUNBOOKS.md"

// AlertingConfig is groundwork:alerting: where alerts go.
type AlertingConfig struct {
	// RunbookURL is the runbooks file alerts link to (its sections are anchors).
	RunbookURL string `json:"runbookUrl"`
}
