package rules

import (
	"context"
	"fmt"
	"os"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// PackName is the policy pack's name, as the engine reports it.
const PackName = "groundwork"

// PackVersion is the pack's version; bump it when a policy changes what it reports.
var PackVersion = semver.MustParse("1.1.0")

// ConfigEnv names a policy pack config file the whole-stack policies read their settings from.
// policyx (SDK v3.259) hands a stack policy its enforcement level from --policy-pack-config
// but not its settings; point this variable at the same file to tune them.
const ConfigEnv = "GROUNDWORK_POLICY_CONFIG"

func level(l Level) policyx.EnforcementLevel {
	switch l {
	case Mandatory:
		return policyx.EnforcementLevelMandatory
	case Disabled:
		return policyx.EnforcementLevelDisabled
	}
	return policyx.EnforcementLevelAdvisory
}

// Pack builds the policy pack the engine runs. stackConfig holds the whole-stack policies'
// settings (nil: their defaults); resource policies get theirs from the engine.
func Pack(stackConfig Resolved) (policyx.PolicyPack, error) {
	var ps []policyx.Policy
	for _, p := range Policies() {
		schema := &policyx.ConfigSchema{Properties: p.Schema()}
		if p.Check != nil {
			ps = append(ps, policyx.NewResourceValidationPolicy(p.Name, policyx.ResourceValidationPolicyArgs{
				Description:      p.FullDescription(),
				EnforcementLevel: level(p.Level),
				ConfigSchema:     schema,
				ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
					c, err := parseConfig(p, args.Config)
					if err != nil {
						return err
					}
					r := fromAnalyzer(args.Resource)
					if exempt(r, c) {
						return nil
					}
					for _, m := range p.Check(r, c) {
						args.Manager.ReportViolation(m, args.Resource.URN)
					}
					return nil
				},
			}))
			continue
		}
		c := defaults(p)
		if s, ok := stackConfig[p.Name]; ok {
			c = s.Config
		}
		ps = append(ps, policyx.NewStackValidationPolicy(p.Name, policyx.StackValidationPolicyArgs{
			Description:      p.FullDescription(),
			EnforcementLevel: level(p.Level),
			ConfigSchema:     schema,
			ValidateStack: func(_ context.Context, args policyx.StackValidationArgs) error {
				rs := make([]Resource, len(args.Resources))
				for i, r := range args.Resources {
					rs[i] = fromAnalyzer(r)
				}
				for _, f := range run(p, rs, c) {
					args.Manager.ReportViolation(f.Message, f.Resource.URN)
				}
				return nil
			},
		}))
	}
	return policyx.NewPolicyPack(PackName, PackVersion, policyx.EnforcementLevelAdvisory, ps)
}

// PackFromEnv builds the pack, reading the whole-stack policies' settings from the file named
// by GROUNDWORK_POLICY_CONFIG when it is set.
func PackFromEnv() (policyx.PolicyPack, error) {
	var cfg Resolved
	if file := os.Getenv(ConfigEnv); file != "" {
		var err error
		if cfg, err = LoadConfigFile(file); err != nil {
			return nil, fmt.Errorf("%s: %w", ConfigEnv, err)
		}
	}
	return Pack(cfg)
}

func fromAnalyzer(r policyx.AnalyzerResource) Resource {
	return Resource{URN: r.URN, Type: r.Type, Name: r.Name, Properties: r.Properties, Protect: r.Options.Protect}
}
