package tests

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
)

// The receivers' credentials, as a stack would set them with --secret.
const (
	slackURL      = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
	pagerDutyKey  = "R0UT1NGK3Y0F4P4G3RDUTY1NT3GR4T10"
	webhookURL    = "https://alerts.example.com/hook?token=s3cr3t-w3bh00k-t0k3n"
	emailPassword = "smtp-p4ssw0rd-n0t-pl41n"
)

func alertingConfig(t *testing.T) string {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"receivers": []any{
			map[string]any{"name": "oncall", "pagerduty": map[string]any{"routingKey": pagerDutyKey}},
			map[string]any{"name": "team", "slack": map[string]any{"url": slackURL, "channel": "#platform-alerts"}},
			map[string]any{"name": "ops-mail", "email": map[string]any{"to": "ops@example.com", "from": "alerts@example.com", "smarthost": "smtp.example.com:587", "username": "alerts", "password": emailPassword}},
			map[string]any{"name": "audit", "webhook": map[string]any{"url": webhookURL}},
		},
		"routes": map[string]any{"critical": []string{"oncall", "team"}, "warning": []string{"team", "ops-mail"}, "info": []string{"audit"}},
	})
	require.NoError(t, err)
	return string(raw)
}

func TestAlertsReachTheConfiguredReceivers(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.config(t)
			cfg["groundwork:alerting"] = alertingConfig(t)
			m, err := run(t, tt.stack, cfg, []string{"groundwork:alerting"}, platform.Run)
			require.NoError(t, err)

			secrets := []string{slackURL, pagerDutyKey, webhookURL, emailPassword}
			assertNoPlaintext(t, m, secrets)

			// The credentials are in a Secret, each a Pulumi secret...
			sec := m.byName(t, "kubernetes:core/v1:Secret", "observability-alert-receivers")
			assert.Equal(t, "alertmanager-receivers", get(sec.Inputs, "metadata.name").StringValue())
			files := map[string]string{}
			data := sec.Inputs["stringData"]
			whole := data.IsSecret()
			for data.IsSecret() {
				data = data.SecretValue().Element
			}
			for k, v := range data.ObjectValue() {
				assert.True(t, whole || v.IsSecret(), "stringData.%s is a secret", k)
				files[string(k)] = propStr(v)
			}
			assert.ElementsMatch(t, secrets, slices.Collect(mapValues(files)))

			// ...mounted into Alertmanager, whose configuration reads them from their files.
			stack := m.byName(t, helmChartType, "observability")
			assert.True(t, m.dependsOn(stack, "kubernetes:core/v1:Secret", "observability-alert-receivers"), "the Secret exists before Alertmanager starts")
			assert.Equal(t, []string{"alertmanager-receivers"}, strs(get(stack.Inputs, "values.alertmanager.alertmanagerSpec.secrets")))
			config := plainValue(get(stack.Inputs, "values.alertmanager.config")).(map[string]any)
			path := func(key string) string { return "/etc/alertmanager/secrets/alertmanager-receivers/" + key }
			byName := map[string]map[string]any{}
			for _, r := range config["receivers"].([]any) {
				byName[r.(map[string]any)["name"].(string)] = r.(map[string]any)
			}
			first := func(r, kind string) map[string]any { return byName[r][kind].([]any)[0].(map[string]any) }
			assert.Equal(t, path("oncall-pagerduty-routing-key"), first("oncall", "pagerduty_configs")["routing_key_file"])
			assert.Equal(t, path("team-slack-url"), first("team", "slack_configs")["api_url_file"])
			assert.Equal(t, "#platform-alerts", first("team", "slack_configs")["channel"])
			assert.Equal(t, path("audit-webhook-url"), first("audit", "webhook_configs")["url_file"])
			mail := first("ops-mail", "email_configs")
			assert.Equal(t, path("ops-mail-email-password"), mail["auth_password_file"])
			assert.Equal(t, "ops@example.com", mail["to"])
			for _, file := range []string{"oncall-pagerduty-routing-key", "team-slack-url", "audit-webhook-url", "ops-mail-email-password"} {
				assert.Contains(t, files, file, "the file the config names is in the Secret")
			}

			// Grouped by alert, service and severity; each severity to its receivers.
			route := config["route"].(map[string]any)
			assert.Equal(t, "null", route["receiver"], "an alert no route takes (the Watchdog heartbeat) reaches nobody")
			assert.Equal(t, []any{"alertname", "service", "severity"}, route["group_by"])
			got := map[string][]string{}
			for _, r := range route["routes"].([]any) {
				rm := r.(map[string]any)
				matcher := rm["matchers"].([]any)[0].(string)
				got[matcher] = append(got[matcher], rm["receiver"].(string))
				if rm["receiver"] != "null" {
					assert.Equal(t, true, rm["continue"], "every receiver of a severity gets the alert")
				}
			}
			assert.Equal(t, map[string][]string{
				`alertname=~"Watchdog|InfoInhibitor"`: {"null"},
				`severity="critical"`:                 {"oncall", "team"},
				`severity="warning"`:                  {"team", "ops-mail"},
				`severity="info"`:                     {"audit"},
			}, got)

			// A critical alert silences the warning of the same alert and service.
			var inhibits bool
			for _, ir := range config["inhibit_rules"].([]any) {
				r := ir.(map[string]any)
				if slices.Equal(r["source_matchers"].([]any), []any{`severity="critical"`}) {
					assert.Equal(t, []any{`severity=~"warning|info"`}, r["target_matchers"])
					assert.Equal(t, []any{"alertname", "service"}, r["equal"])
					inhibits = true
				}
			}
			assert.True(t, inhibits)
		})
	}
}

func mapValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestWithoutReceiversAlertmanagerKeepsItsDefaults(t *testing.T) {
	m, err := run(t, "dev", stackConfig(t, "dev"), nil, platform.Run)
	require.NoError(t, err)
	assert.NotContains(t, names(m.ofType("kubernetes:core/v1:Secret")), "observability-alert-receivers")
	assert.True(t, get(m.byName(t, helmChartType, "observability").Inputs, "values.alertmanager.config").IsNull())
}

func TestProdWithoutAlertingIsRefused(t *testing.T) {
	cfg := stackConfig(t, "prod")
	require.Contains(t, cfg, "groundwork:alerting", "Pulumi.prod.yaml names a receiver")
	delete(cfg, "groundwork:alerting")
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "groundwork:alerting.receivers: required in prod")
	assert.Empty(t, m.resources, "nothing is created")
}

func TestBadAlertingConfigNamesTheKey(t *testing.T) {
	receivers := func(rs string) string { return `{"receivers":` + rs + `,"routes":{"critical":["oncall"]}}` }
	tests := []struct {
		name, give string
		secret     bool
		want       string
	}{
		{"plaintext credential", alertingConfig(t), false,
			"groundwork:alerting: holds receiver URLs, keys or passwords in plain text; set them with `pulumi config set --secret --path 'groundwork:alerting.receivers[0].slack.url' ...`"},
		{"no kind", receivers(`[{"name":"oncall"}]`), true,
			"groundwork:alerting.receivers[0]: set exactly one of webhook, slack, pagerduty, email (has 0)"},
		{"two kinds", receivers(`[{"name":"oncall","webhook":{"url":"https://a.example.com"},"pagerduty":{"routingKey":"k"}}]`), true,
			"groundwork:alerting.receivers[0]: set exactly one of webhook, slack, pagerduty, email (has 2)"},
		{"plain http", receivers(`[{"name":"oncall","slack":{"url":"http://hooks.slack.com/x"}}]`), true,
			"groundwork:alerting.receivers[0].slack.url: required: an https URL (set it with --secret --path)"},
		{"no routing key", receivers(`[{"name":"oncall","pagerduty":{}}]`), true,
			"groundwork:alerting.receivers[0].pagerduty.routingKey: required"},
		{"bad e-mail", receivers(`[{"name":"oncall","email":{"to":"ops","from":"a@example.com","smarthost":"smtp.example.com"}}]`), true,
			`groundwork:alerting.receivers[0].email.to: "ops" is not an e-mail address`},
		{"smarthost", receivers(`[{"name":"oncall","email":{"to":"o@example.com","from":"a@example.com","smarthost":"smtp.example.com"}}]`), true,
			`groundwork:alerting.receivers[0].email.smarthost: "smtp.example.com" is not an SMTP relay as host:port`},
		{"unknown receiver", `{"receivers":[{"name":"oncall","pagerduty":{"routingKey":"k"}}],"routes":{"critical":["oncall","pager"]}}`, true,
			`groundwork:alerting.routes.critical[1]: no receiver "pager" in alerting.receivers`},
		{"unknown severity", `{"receivers":[{"name":"oncall","pagerduty":{"routingKey":"k"}}],"routes":{"critical":["oncall"],"urgent":["oncall"]}}`, true,
			"groundwork:alerting.routes.urgent: not a severity; allowed: critical, warning, info"},
		{"nobody paged", `{"receivers":[{"name":"oncall","pagerduty":{"routingKey":"k"}}],"routes":{"warning":["oncall"]}}`, true,
			"groundwork:alerting.routes.critical: required: the receivers that page for critical alerts"},
		{"unrouted receiver", `{"receivers":[{"name":"oncall","pagerduty":{"routingKey":"k"}},{"name":"spare","webhook":{"url":"https://a.example.com"}}],"routes":{"critical":["oncall"]}}`, true,
			`groundwork:alerting.receivers: "spare" is in no route`},
		{"typo", `{"receivers":[{"name":"oncall","slack":{"uri":"https://a.example.com"}}]}`, true,
			`groundwork:alerting: unknown field "uri"`},
		{"prod without receivers", `{"routes":{}}`, false,
			"groundwork:alerting.receivers: required in prod: without a receiver every alert stays in Alertmanager and reaches nobody"},
		{"runbook", `{"runbookUrl":"RUNBOOKS.md"}`, false,
			`groundwork:alerting.runbookUrl: "RUNBOOKS.md" is not the http(s) URL of a runbooks file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			cfg["groundwork:alerting"] = tt.give
			var secret []string
			if tt.secret {
				secret = []string{"groundwork:alerting"}
			}
			m, err := run(t, "prod", cfg, secret, platform.Run)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, m.resources, "nothing is created")
		})
	}
}
