package observability

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Severities alerts are routed by: critical pages, warning and info go to a channel.
var Severities = []string{"critical", "warning", "info"}

// Alerting says where alerts go: receivers, and the receivers of each severity. Credentials
// (URLs with tokens, routing keys, passwords) are Pulumi secrets: they reach Alertmanager in a
// Kubernetes Secret mounted as files, and its configuration names the files, so no credential
// is ever in the chart's values.
type Alerting struct {
	Receivers []Receiver
	// Routes names the receivers of each severity (Severities); an alert goes to all of them.
	Routes map[string][]string
}

// Receiver is one destination; exactly one of its kinds is set.
type Receiver struct {
	Name      string
	Webhook   *Webhook
	Slack     *Slack
	PagerDuty *PagerDuty
	Email     *Email
}

// Webhook posts Alertmanager's JSON to a URL (a secret: it often carries a token).
type Webhook struct{ URL pulumi.StringInput }

// Slack posts to an incoming-webhook URL (a secret), optionally to a channel other than the
// webhook's own.
type Slack struct {
	URL     pulumi.StringInput
	Channel string
}

// PagerDuty sends events to a service's Events API v2 integration (its routing key, a secret).
type PagerDuty struct{ RoutingKey pulumi.StringInput }

// Email sends mail through an SMTP relay (host:port); Password, a secret, goes with Username.
type Email struct {
	To, From, Smarthost, Username string
	Password                      pulumi.StringInput
}

// AlertingSecret is the Secret in the monitoring namespace that holds the receivers'
// credentials; Alertmanager mounts it under alertmanagerSecrets.
const (
	AlertingSecret      = "alertmanager-receivers"
	alertmanagerSecrets = "/etc/alertmanager/secrets/" + AlertingSecret + "/"
)

func (a *Alerting) validate() error {
	var errs []error
	names := map[string]bool{}
	for i, r := range a.Receivers {
		if r.Name == "" || r.Name == "null" || names[r.Name] {
			errs = append(errs, fmt.Errorf("observability: receiver %d: name %q is empty, reserved or used twice", i, r.Name))
		}
		names[r.Name] = true
		kinds := 0
		for _, set := range []bool{r.Webhook != nil, r.Slack != nil, r.PagerDuty != nil, r.Email != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			errs = append(errs, fmt.Errorf("observability: receiver %s: set exactly one of webhook, slack, pagerduty, email", r.Name))
		}
		switch {
		case r.Webhook != nil && r.Webhook.URL == nil, r.Slack != nil && r.Slack.URL == nil, r.PagerDuty != nil && r.PagerDuty.RoutingKey == nil:
			errs = append(errs, fmt.Errorf("observability: receiver %s: its URL or routing key is required", r.Name))
		case r.Email != nil && (r.Email.To == "" || r.Email.From == "" || r.Email.Smarthost == "" || (r.Email.Password != nil) != (r.Email.Username != "")):
			errs = append(errs, fmt.Errorf("observability: receiver %s: email needs to, from and smarthost, and a password with a username", r.Name))
		}
	}
	for sev, rs := range a.Routes {
		if !slices.Contains(Severities, sev) {
			errs = append(errs, fmt.Errorf("observability: route %q: not a severity; allowed: critical, warning, info", sev))
		}
		for _, r := range rs {
			if !names[r] {
				errs = append(errs, fmt.Errorf("observability: route %s: no receiver %q", sev, r))
			}
		}
	}
	if len(a.Routes["critical"]) == 0 {
		errs = append(errs, errors.New("observability: critical alerts need a receiver"))
	}
	return errors.Join(errs...)
}

// alertmanagerConfig is Alertmanager's configuration: alerts grouped by name, service and
// severity, each severity to its receivers with its own pace (critical at once and every hour,
// the rest slower), a critical alert inhibiting the warning and info ones of the same alert and
// service, and the chassis' heartbeat (Watchdog) to nobody. It returns the credentials to put
// in the AlertingSecret, by file name.
// https://prometheus.io/docs/alerting/0.28/configuration/ (url_file, api_url_file,
// routing_key_file, auth_password_file: secrets read from files; Alertmanager v0.34 here).
func (a *Alerting) alertmanagerConfig() (map[string]any, pulumi.StringMap) {
	files := pulumi.StringMap{}
	file := func(r, what string, v pulumi.StringInput) string {
		key := r + "-" + what
		files[key] = pulumi.ToSecret(v).(pulumi.StringOutput)
		return alertmanagerSecrets + key
	}
	receivers := []any{map[string]any{"name": "null"}}
	for _, r := range a.Receivers {
		rc := map[string]any{"name": r.Name}
		switch {
		case r.Webhook != nil:
			rc["webhook_configs"] = []any{map[string]any{"url_file": file(r.Name, "webhook-url", r.Webhook.URL), "send_resolved": true}}
		case r.Slack != nil:
			c := map[string]any{
				"api_url_file": file(r.Name, "slack-url", r.Slack.URL), "send_resolved": true,
				"title": `[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.service }}`,
				"text":  `{{ range .Alerts }}{{ .Annotations.summary }} <{{ .Annotations.runbook_url }}|runbook>{{ "\n" }}{{ end }}`,
			}
			if r.Slack.Channel != "" {
				c["channel"] = r.Slack.Channel
			}
			rc["slack_configs"] = []any{c}
		case r.PagerDuty != nil:
			rc["pagerduty_configs"] = []any{map[string]any{"routing_key_file": file(r.Name, "pagerduty-routing-key", r.PagerDuty.RoutingKey), "send_resolved": true}}
		case r.Email != nil:
			c := map[string]any{"to": r.Email.To, "from": r.Email.From, "smarthost": r.Email.Smarthost, "send_resolved": true}
			if r.Email.Username != "" {
				c["auth_username"] = r.Email.Username
				c["auth_password_file"] = file(r.Name, "email-password", r.Email.Password)
			}
			rc["email_configs"] = []any{c}
		}
		receivers = append(receivers, rc)
	}
	pace := map[string][2]string{"critical": {"10s", "1h"}, "warning": {"1m", "12h"}, "info": {"5m", "24h"}}
	routes := []any{map[string]any{"receiver": "null", "matchers": []string{`alertname=~"Watchdog|InfoInhibitor"`}}}
	for _, sev := range Severities {
		for _, r := range a.Routes[sev] {
			routes = append(routes, map[string]any{
				"receiver": r, "matchers": []string{fmt.Sprintf("severity=%q", sev)},
				"group_wait": pace[sev][0], "repeat_interval": pace[sev][1],
				// Every receiver of the severity gets the alert.
				"continue": true,
			})
		}
	}
	return map[string]any{
		"global": map[string]any{"resolve_timeout": "5m"},
		"route": map[string]any{
			"receiver": "null", "group_by": []string{"alertname", "service", "severity"},
			"group_wait": "30s", "group_interval": "5m", "repeat_interval": "12h",
			"routes": routes,
		},
		"receivers": receivers,
		"inhibit_rules": []any{
			map[string]any{"source_matchers": []string{`severity="critical"`}, "target_matchers": []string{`severity=~"warning|info"`}, "equal": []string{"alertname", "service"}},
			map[string]any{"source_matchers": []string{`severity="warning"`}, "target_matchers": []string{`severity="info"`}, "equal": []string{"alertname", "service"}},
			map[string]any{"source_matchers": []string{`alertname="InfoInhibitor"`}, "target_matchers": []string{`severity="info"`}, "equal": []string{"namespace"}},
		},
		"templates": []string{"/etc/alertmanager/config/*.tmpl"},
	}, files
}
