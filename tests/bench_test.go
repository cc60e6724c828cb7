package tests

import (
	"testing"

	"github.com/groundwork/groundwork/platform"
)

// BenchmarkStack measures one whole run of each stack file's program under mocks: what a
// `pulumi preview` costs the program itself, before any provider work. Resources per run are
// reported so later layers see what they add.
func BenchmarkStack(b *testing.B) {
	for _, tt := range stackCases {
		b.Run(tt.name, func(b *testing.B) {
			cfg := tt.config(b)
			var resources int
			for b.Loop() {
				m, err := run(b, tt.stack, cfg, nil, platform.Run)
				if err != nil {
					b.Fatal(err)
				}
				resources = len(m.resources)
			}
			b.ReportMetric(float64(resources), "resources/op")
		})
	}
}
