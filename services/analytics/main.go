// Command analytics is the analytics service: it ingests activity (client events over HTTP and
// every other service's domain events from Kafka) and generates simple reports: counts per day
// and event name over a time range.
// Every route needs a token: members record their own activity (others' needs users.manage),
// reports need reports.read.
// Events (topic analytics.events): UserActivityRecorded, ReportGenerated.
package main

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/groundwork/groundwork/services/chassis"
)

//go:embed migrations/*.sql
var migrations embed.FS

const name = "analytics"

// sources are the services whose domain events are recorded as activity.
var sources = []string{"identity", "user", "subscription", "notification", "tenant"}

func service() chassis.Service {
	m, _ := fs.Sub(migrations, "migrations")
	return chassis.Service{Name: name, Migrations: m, Setup: setup}
}

func setup(a *chassis.App, _ func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	s := &api{app: a}
	mux.Handle("POST /v1/events", chassis.Handler(s.ingest))
	mux.Handle("POST /v1/reports", chassis.Handler(s.generate))
	mux.Handle("GET /v1/reports/{id}", chassis.Handler(s.getReport))
	var topics []string
	for _, src := range sources {
		topics = append(topics, chassis.EventsTopic(src))
	}
	return []chassis.Consumer{{Name: "activity", Topics: topics, Handle: s.record}}, nil
}

func main() { chassis.Main(service()) }
