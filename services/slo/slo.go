// Package slo holds a service's service-level objectives, their defaults from the product brief
// and the multi-window, multi-burn-rate alerting policy they are watched with. It is plain data,
// shared by services.Load (service.yaml) and components/microservice (the alert rules).
package slo

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Objective is what a service promises over a 30-day window.
type Objective struct {
	// Availability is the percentage of requests answered without a server error (5xx).
	Availability float64
	// LatencyP99 is the latency 99% of requests stay under.
	LatencyP99 time.Duration
}

// Default is the brief's target (seeds 004, "Performance Results"): API p99 under 100 ms and
// 99.95% availability.
var Default = Objective{Availability: 99.95, LatencyP99: 100 * time.Millisecond}

// LatencyBounds are the bucket bounds of Istio's istio_request_duration_milliseconds histogram,
// Envoy's default buckets (envoyproxy/envoy source/common/stats/histogram_impl.cc,
// HistogramSettingsImpl::defaultBuckets), from 5 ms to 10 s. The latency objective is measured
// as the share of requests in the bucket at LatencyP99, so it must be one of them.
var LatencyBounds = []time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Problems lists what is wrong with o, by field name (availability, latencyP99).
func (o Objective) Problems() map[string]string {
	out := map[string]string{}
	if o.Availability < 90 || o.Availability > 99.999 {
		out["availability"] = fmt.Sprintf("%v%% is out of range; allowed 90 to 99.999 (percent of requests without a server error)", o.Availability)
	}
	if !slices.Contains(LatencyBounds, o.LatencyP99) {
		bounds := make([]string, len(LatencyBounds))
		for i, b := range LatencyBounds {
			bounds[i] = b.String()
		}
		out["latencyP99"] = fmt.Sprintf("%s is not a bucket bound of Istio's request-duration histogram, which the objective is measured on; allowed: %s",
			o.LatencyP99, strings.Join(bounds, ", "))
	}
	return out
}

// ErrorBudget is the fraction of requests allowed to fail: 0.0005 for 99.95%.
func (o Objective) ErrorBudget() float64 {
	// Rounded: 100-99.95 is 0.04999999999999716 in floating point.
	b, _ := strconv.ParseFloat(strconv.FormatFloat((100-o.Availability)/100, 'f', 8, 64), 64)
	return b
}

// LatencyBudget is the fraction of requests allowed above LatencyP99: 1%.
const LatencyBudget = 0.01

// LatencyBucket is the le label of the histogram bucket at LatencyP99, in milliseconds.
func (o Objective) LatencyBucket() string {
	return strconv.FormatFloat(float64(o.LatencyP99)/float64(time.Millisecond), 'f', -1, 64)
}

// BurnRate is one alert of the multi-window, multi-burn-rate policy: it fires while the error
// budget burns Factor times faster than the SLO allows over both the Long and the Short window
// (the short one makes it stop soon after the burn does).
type BurnRate struct {
	Long, Short time.Duration
	Factor      float64
	Severity    string
}

// BurnRates are the Google SRE workbook's recommendation ("Alerting on SLOs", table 5-8) for a
// 30-day objective: page at 2% of the budget in an hour or 5% in six hours, open a ticket at
// 10% in a day or 10% in three days.
var BurnRates = []BurnRate{
	{Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4, Severity: "critical"},
	{Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6, Severity: "critical"},
	{Long: 24 * time.Hour, Short: 2 * time.Hour, Factor: 3, Severity: "warning"},
	{Long: 72 * time.Hour, Short: 6 * time.Hour, Factor: 1, Severity: "warning"},
}

// Window is a duration the way PromQL writes it: 5m, 1h, 1d, 3d.
func Window(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}
