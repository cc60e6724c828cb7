package platform

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/image"
	"github.com/groundwork/groundwork/components/observability"
	"github.com/groundwork/groundwork/services"
)

// ServiceConfig is one entry of groundwork:services: what a stack changes about one service of
// services/ at deploy time.
type ServiceConfig struct {
	// Canary runs a second version of the service beside the stable one and sends it a share
	// of the requests through the mesh. Optional.
	Canary *CanaryConfig `json:"canary"`
}

// CanaryConfig is groundwork:services.<name>.canary.
type CanaryConfig struct {
	// Version is the canary's image, by tag or sha256 digest, in the service's repository.
	Version string `json:"version"`
	// Weight is the percentage of requests the canary gets, 0-100 (0 deploys it dark).
	Weight *int `json:"weight"`
}

// validateServiceSettings checks groundwork:services on its own; serviceSettingsMatch checks
// it against services/.
func (c *Config) validateServiceSettings(p *problems) {
	for _, name := range sortedKeys(c.Services) {
		key := "services." + name
		if !dnsLabel.MatchString(name) {
			p.add(key, "%q is not a service name (a folder of %s)", name, c.ServicesDir)
		}
		cn := c.Services[name].Canary
		if cn == nil {
			continue
		}
		if cn.Version == "" {
			p.add(key+".canary.version", "required: the canary's image tag or sha256 digest")
		} else if _, err := image.Prebuilt(pulumi.String("r"), cn.Version); err != nil {
			p.add(key+".canary.version", "%v", err)
		}
		switch w := cn.Weight; {
		case w == nil:
			p.add(key+".canary.weight", "required: the percentage of requests the canary gets, 0 to 100")
		case *w < 0 || *w > 100:
			p.add(key+".canary.weight", "%d is out of range; allowed 0 to 100 (percent of requests)", *w)
		}
	}
}

// serviceSettingsMatch reports settings for services that services/ does not have.
func serviceSettingsMatch(cfg *Config, specs []services.Spec) error {
	var p problems
	have := make([]string, len(specs))
	for i, s := range specs {
		have[i] = s.Name
	}
	slices.Sort(have)
	for _, name := range sortedKeys(cfg.Services) {
		if !slices.Contains(have, name) {
			p.add("services."+name, "no service %q in %s; services: %s", name, cfg.ServicesDir, join(have))
		}
	}
	for _, name := range sortedKeys(cfg.Images.Versions) {
		if !slices.Contains(have, name) {
			p.add("images.versions."+name, "no service %q in %s; services: %s", name, cfg.ServicesDir, join(have))
		}
	}
	return errors.Join(p...)
}

// DefaultRunbookURL is the runbooks file of this repository, which every alert links a section
// of; a fork sets groundwork:alerting.runbookUrl to its own copy.
const DefaultRunbookURL = "https://github.com/groundwork/groundwork/blob/main/platform/RUNBOOKS.md"

// AlertingConfig is groundwork:alerting: where alerts go. URLs, routing keys and passwords are
// secrets: pulumi config set --secret --path 'groundwork:alerting.receivers[0].slack.url' ...
type AlertingConfig struct {
	// RunbookURL is the runbooks file alerts link to (its sections are anchors).
	RunbookURL string `json:"runbookUrl"`
	// Receivers are the destinations; Routes names the receivers of each severity (critical,
	// warning, info).
	Receivers []ReceiverConfig    `json:"receivers"`
	Routes    map[string][]string `json:"routes"`
}

// ReceiverConfig is one entry of groundwork:alerting.receivers; exactly one kind is set.
type ReceiverConfig struct {
	Name      string           `json:"name"`
	Webhook   *WebhookConfig   `json:"webhook"`
	Slack     *SlackConfig     `json:"slack"`
	PagerDuty *PagerDutyConfig `json:"pagerduty"`
	Email     *EmailConfig     `json:"email"`
}

// WebhookConfig posts alerts as JSON to URL (a secret).
type WebhookConfig struct {
	URL string `json:"url"`
}

// SlackConfig posts to a Slack incoming webhook (URL, a secret), optionally to Channel.
type SlackConfig struct {
	URL     string `json:"url"`
	Channel string `json:"channel"`
}

// PagerDutyConfig pages through a PagerDuty service's Events API v2 integration key (a secret).
type PagerDutyConfig struct {
	RoutingKey string `json:"routingKey"`
}

// EmailConfig sends mail through an SMTP relay; Password (a secret) goes with Username.
type EmailConfig struct {
	To        string `json:"to"`
	From      string `json:"from"`
	Smarthost string `json:"smarthost"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// hasSecrets says whether the alerting config holds a credential.
func (a AlertingConfig) hasSecrets() bool {
	for _, r := range a.Receivers {
		if r.Webhook != nil && r.Webhook.URL != "" || r.Slack != nil && r.Slack.URL != "" ||
			r.PagerDuty != nil && r.PagerDuty.RoutingKey != "" || r.Email != nil && r.Email.Password != "" {
			return true
		}
	}
	return false
}

func (c *Config) validateAlerting(p *problems) {
	a := c.Alerting
	if u, err := url.Parse(a.RunbookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		p.add("alerting.runbookUrl", "%q is not the http(s) URL of a runbooks file (without a #section)", a.RunbookURL)
	}
	names := map[string]bool{}
	httpsURL := func(key, v string) {
		if u, err := url.Parse(v); v == "" || err != nil || u.Scheme != "https" || u.Host == "" {
			p.add(key, "required: an https URL (set it with --secret --path)")
		}
	}
	for i, r := range a.Receivers {
		key := fmt.Sprintf("alerting.receivers[%d]", i)
		switch {
		case !dnsLabel.MatchString(r.Name) || r.Name == "null":
			p.add(key+".name", "%q is not a receiver name (lower-case letters, digits, '-'; not null)", r.Name)
		case names[r.Name]:
			p.add(key+".name", "%q names two receivers", r.Name)
		}
		names[r.Name] = true
		kinds := 0
		if r.Webhook != nil {
			kinds++
			httpsURL(key+".webhook.url", r.Webhook.URL)
		}
		if r.Slack != nil {
			kinds++
			httpsURL(key+".slack.url", r.Slack.URL)
		}
		if r.PagerDuty != nil {
			kinds++
			if r.PagerDuty.RoutingKey == "" {
				p.add(key+".pagerduty.routingKey", "required: the integration key of a PagerDuty service's Events API v2 integration (set it with --secret --path)")
			}
		}
		if e := r.Email; e != nil {
			kinds++
			for _, f := range []struct{ field, addr string }{{"to", e.To}, {"from", e.From}} {
				if _, err := mail.ParseAddress(f.addr); err != nil {
					p.add(key+".email."+f.field, "%q is not an e-mail address", f.addr)
				}
			}
			if host, port, err := net.SplitHostPort(e.Smarthost); err != nil || host == "" || port == "" {
				p.add(key+".email.smarthost", "%q is not an SMTP relay as host:port, e.g. smtp.example.com:587", e.Smarthost)
			}
			if (e.Username == "") != (e.Password == "") {
				p.add(key+".email", "username and password go together: set both to log in to the relay, or neither")
			}
		}
		if kinds != 1 {
			p.add(key, "set exactly one of webhook, slack, pagerduty, email (has %d)", kinds)
		}
	}
	if c.Environment == EnvProd && len(a.Receivers) == 0 {
		// Alertmanager without a receiver keeps every alert in its own UI: in prod nobody is told
		// the platform is down, so a prod stack names at least who is paged.
		p.add("alerting.receivers", "required in prod: without a receiver every alert stays in Alertmanager and reaches nobody; add one (README, \"Operating it\"), e.g. pulumi config set --secret --path 'groundwork:alerting.receivers[0].pagerduty.routingKey' <key>")
	}
	routed := map[string]bool{}
	for _, sev := range sortedKeys(a.Routes) {
		if !slices.Contains(observability.Severities, sev) {
			p.add("alerting.routes."+sev, "not a severity; allowed: %s", join(observability.Severities))
			continue
		}
		for i, r := range a.Routes[sev] {
			routed[r] = true
			if !names[r] {
				p.add(fmt.Sprintf("alerting.routes.%s[%d]", sev, i), "no receiver %q in alerting.receivers", r)
			}
		}
	}
	if len(a.Receivers) > 0 && len(a.Routes["critical"]) == 0 {
		p.add("alerting.routes.critical", "required: the receivers that page for critical alerts")
	}
	for _, r := range a.Receivers {
		if r.Name != "" && !routed[r.Name] {
			p.add("alerting.receivers", "%q is in no route; name it under alerting.routes.<severity>", r.Name)
		}
	}
}

// alerting is the observability component's routing of the stack's alerts, credentials as
// secrets; nil where the stack names no receiver.
func (a AlertingConfig) alerting() *observability.Alerting {
	if len(a.Receivers) == 0 {
		return nil
	}
	secret := func(v string) pulumi.StringInput { return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput) }
	out := &observability.Alerting{Routes: a.Routes}
	for _, r := range a.Receivers {
		rc := observability.Receiver{Name: r.Name}
		switch {
		case r.Webhook != nil:
			rc.Webhook = &observability.Webhook{URL: secret(r.Webhook.URL)}
		case r.Slack != nil:
			rc.Slack = &observability.Slack{URL: secret(r.Slack.URL), Channel: r.Slack.Channel}
		case r.PagerDuty != nil:
			rc.PagerDuty = &observability.PagerDuty{RoutingKey: secret(r.PagerDuty.RoutingKey)}
		case r.Email != nil:
			rc.Email = &observability.Email{To: r.Email.To, From: r.Email.From, Smarthost: r.Email.Smarthost, Username: r.Email.Username}
			if r.Email.Password != "" {
				rc.Email.Password = secret(r.Email.Password)
			}
		}
		out.Receivers = append(out.Receivers, rc)
	}
	return out
}
