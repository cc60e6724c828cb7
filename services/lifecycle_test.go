package services_test

import (
	"slices"
	"testing"

	"github.com/groundwork/groundwork/services"
	"github.com/groundwork/groundwork/services/chassis"
)

// Every service's chassis consumes the lifecycle topics; the specs the platform deploys must
// grant each service read access to them, or suspensions would not reach it.
func TestEveryServiceConsumesTheLifecycleTopics(t *testing.T) {
	if !slices.Equal(services.LifecycleTopics, chassis.LifecycleTopics) {
		t.Fatalf("services.LifecycleTopics %v, chassis.LifecycleTopics %v: they must agree", services.LifecycleTopics, chassis.LifecycleTopics)
	}
	specs, err := services.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		for _, tp := range chassis.LifecycleTopics {
			if !slices.Contains(s.Topics.Consumes, tp) {
				t.Errorf("%s does not consume %s", s.Name, tp)
			}
		}
	}
}
