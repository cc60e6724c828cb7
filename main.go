// Command groundwork is the Pulumi program that builds the Groundwork platform.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/platform"
)

func main() {
	pulumi.Run(platform.Run)
}
