package kafka

import (
	"errors"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func newMSK(ctx *pulumi.Context, name string, args Args, k *Kafka) error {
	return errors.New("kafka: mode msk is not available yet")
}
