// Command policy serves the Groundwork policy pack to the Pulumi engine:
//
//	pulumi preview --policy-pack policy --policy-pack-config policy/config.prod.json
//
// The policies live in policy/rules, where tests and tools run them without the engine.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/groundwork/groundwork/policy/rules"
)

func main() {
	if err := policyx.Main(func(*pulumi.Context) (policyx.PolicyPack, error) {
		return rules.PackFromEnv()
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
