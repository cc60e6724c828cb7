package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/mod/modfile"
	"google.golang.org/protobuf/types/known/structpb"
)

func props(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(m, marshal)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func urn(token string) string {
	return string(resource.NewURN("dev", "groundwork", "", tokens.Type(token), "x"))
}

// create runs Check then Create, and returns the ID and outputs.
func create(t *testing.T, s *server, token string, in resource.PropertyMap) (string, resource.PropertyMap) {
	t.Helper()
	ctx := context.Background()
	chk, err := s.Check(ctx, &pulumirpc.CheckRequest{Urn: urn(token), News: props(t, in)})
	if err != nil || len(chk.GetFailures()) > 0 {
		t.Fatalf("Check: %v %v", err, chk.GetFailures())
	}
	resp, err := s.Create(ctx, &pulumirpc.CreateRequest{Urn: urn(token), Properties: chk.GetInputs()})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	out, err := unmarshal(resp.GetProperties())
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetId(), out
}

func diff(t *testing.T, s *server, token string, olds, oldInputs, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	d, err := s.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: urn(token), Olds: props(t, olds), OldInputs: props(t, oldInputs), News: props(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func secretString(t *testing.T, m resource.PropertyMap, key string) string {
	t.Helper()
	v := m[resource.PropertyKey(key)]
	if !v.IsSecret() {
		t.Fatalf("%s is not secret: %v", key, v)
	}
	return v.SecretValue().Element.StringValue()
}

func TestPackageOfBinaryName(t *testing.T) {
	for name, want := range map[string]string{"/x/pulumi-resource-random": RandomVersion, "pulumi-resource-tls": TLSVersion} {
		if _, v, err := packageOf(name); err != nil || v != want {
			t.Errorf("packageOf(%q) = %q, %v; want %q", name, v, err, want)
		}
	}
	if _, _, err := packageOf("pulumi-resource-aws"); err == nil {
		t.Error("a stand-in named pulumi-resource-aws should refuse to start")
	}
}

// TestVersionsAreTheSDKs: the stand-in reports, and is installed as, the versions go.mod pins.
func TestVersionsAreTheSDKs(t *testing.T) {
	data, err := os.ReadFile("../../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"github.com/pulumi/pulumi-random/sdk/v4": RandomVersion, "github.com/pulumi/pulumi-tls/sdk/v5": TLSVersion}
	for _, r := range mf.Require {
		if v, ok := want[r.Mod.Path]; ok {
			if r.Mod.Version != "v"+v {
				t.Errorf("go.mod pins %s %s, the stand-in says %s", r.Mod.Path, r.Mod.Version, v)
			}
			delete(want, r.Mod.Path)
		}
	}
	if len(want) > 0 {
		t.Errorf("go.mod requires none of %v", want)
	}
}

func TestRandomPassword(t *testing.T) {
	s := newServer("random", RandomVersion, randomKinds())
	const tok = "random:index/randomPassword:RandomPassword"
	in := resource.PropertyMap{"length": resource.NewProperty(40.0), "special": resource.NewProperty(false), "minNumeric": resource.NewProperty(5.0)}
	id, out := create(t, s, tok, in)
	pw := secretString(t, out, "result")
	secretString(t, out, "bcryptHash")
	if id != "none" || len(pw) != 40 || strings.ContainsAny(pw, specialChars) {
		t.Fatalf("id %q, password %q", id, pw)
	}
	digits := 0
	for _, c := range pw {
		if strings.ContainsRune(numericChars, c) {
			digits++
		}
	}
	if digits < 5 {
		t.Errorf("minNumeric 5, got %d digits in %q", digits, pw)
	}
	if _, other := create(t, s, tok, in); secretString(t, other, "result") == pw {
		t.Error("two passwords are the same")
	}
	// Same inputs, defaults spelled out or not, a secret wrapper: no change.
	same := in.Copy()
	same["upper"] = resource.NewProperty(true)
	same["length"] = resource.MakeSecret(resource.NewProperty(40.0))
	if d := diff(t, s, tok, out, in, same); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("no change expected, got %v", d)
	}
	// Keepers changing, or any input: replaced.
	kept := in.Copy()
	kept["keepers"] = resource.NewProperty(resource.PropertyMap{"rotation": resource.NewProperty("2")})
	if d := diff(t, s, tok, out, in, kept); len(d.GetReplaces()) != 1 || d.GetReplaces()[0] != "keepers" {
		t.Errorf("keepers change should replace, got %v", d)
	}
	// An unknown input in a preview: replaced, and Create previews unknown outputs.
	unknown := in.Copy()
	unknown["length"] = resource.MakeComputed(resource.NewProperty(""))
	if d := diff(t, s, tok, out, in, unknown); len(d.GetReplaces()) != 1 {
		t.Errorf("unknown length should replace, got %v", d)
	}
	bad := resource.PropertyMap{"length": resource.NewProperty(3.0), "minUpper": resource.NewProperty(4.0)}
	if chk, _ := s.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urn(tok), News: props(t, bad)}); len(chk.GetFailures()) == 0 {
		t.Error("length below the minimums should fail Check")
	}
}

func TestRandomID(t *testing.T) {
	s := newServer("random", RandomVersion, randomKinds())
	const tok = "random:index/randomId:RandomId"
	in := resource.PropertyMap{"byteLength": resource.NewProperty(4.0), "prefix": resource.NewProperty("p-"),
		"keepers": resource.NewProperty(resource.PropertyMap{"engine": resource.NewProperty("postgres")})}
	id, out := create(t, s, tok, in)
	if len(id) != 6 || out["b64Url"].StringValue() != "p-"+id || len(out["hex"].StringValue()) != 10 || out["hex"].IsSecret() {
		t.Fatalf("id %q, outputs %v", id, out)
	}
	changed := in.Copy()
	changed["keepers"] = resource.NewProperty(resource.PropertyMap{"engine": resource.NewProperty("mysql")})
	if d := diff(t, s, tok, out, in, changed); len(d.GetReplaces()) != 1 {
		t.Errorf("keepers change should replace, got %v", d)
	}
}

func TestPrivateKeyAndCert(t *testing.T) {
	s := newServer("tls", TLSVersion, tlsKinds())
	const keyTok, certTok = "tls:index/privateKey:PrivateKey", "tls:index/selfSignedCert:SelfSignedCert"
	for _, c := range []struct {
		in      resource.PropertyMap
		pemType string
		openssh bool
	}{
		{resource.PropertyMap{"algorithm": resource.NewProperty("ECDSA"), "ecdsaCurve": resource.NewProperty("P256")}, "EC PRIVATE KEY", true},
		{resource.PropertyMap{"algorithm": resource.NewProperty("ECDSA")}, "EC PRIVATE KEY", false}, // P224: no OpenSSH
		{resource.PropertyMap{"algorithm": resource.NewProperty("RSA")}, "RSA PRIVATE KEY", true},
		{resource.PropertyMap{"algorithm": resource.NewProperty("ED25519")}, "PRIVATE KEY", true},
	} {
		id, out := create(t, s, keyTok, c.in)
		keyPEM := secretString(t, out, "privateKeyPem")
		if b, _ := pem.Decode([]byte(keyPEM)); b == nil || b.Type != c.pemType || len(id) != 40 {
			t.Fatalf("%v: id %q, key %q", c.in, id, keyPEM)
		}
		if (secretString(t, out, "privateKeyOpenssh") != "") != c.openssh || (out["publicKeyOpenssh"].StringValue() != "") != c.openssh {
			t.Errorf("%v: OpenSSH forms %v expected", c.in, c.openssh)
		}
		secretString(t, out, "privateKeyPemPkcs8")
		if out["publicKeyPem"].IsSecret() {
			t.Error("publicKeyPem should not be secret")
		}
		if c.in["ecdsaCurve"].IsNull() && out["ecdsaCurve"].StringValue() != "P224" {
			t.Errorf("default curve P224, got %v", out["ecdsaCurve"])
		}

		certIn := resource.PropertyMap{
			"privateKeyPem":       resource.MakeSecret(resource.NewProperty(keyPEM)),
			"validityPeriodHours": resource.NewProperty(100.0),
			"earlyRenewalHours":   resource.NewProperty(10.0),
			"isCaCertificate":     resource.NewProperty(true),
			"allowedUses":         resource.NewProperty([]resource.PropertyValue{resource.NewProperty("cert_signing"), resource.NewProperty("server_auth")}),
			"subject":             resource.NewProperty(resource.PropertyMap{"commonName": resource.NewProperty("ca"), "organization": resource.NewProperty("groundwork")}),
		}
		serial, cert := create(t, s, certTok, certIn)
		secretString(t, cert, "privateKeyPem")
		b, _ := pem.Decode([]byte(cert["certPem"].StringValue()))
		x, err := x509.ParseCertificate(b.Bytes)
		if err != nil || !x.IsCA || x.Subject.CommonName != "ca" || x.SerialNumber.String() != serial || x.KeyUsage&x509.KeyUsageCertSign == 0 || len(x.ExtKeyUsage) != 1 {
			t.Fatalf("certificate %v: %v", x, err)
		}
		if _, ok := x.PublicKey.(*ecdsa.PublicKey); ok != (c.pemType == "EC PRIVATE KEY") {
			t.Errorf("certificate key %T", x.PublicKey)
		}
		if d := diff(t, s, certTok, cert, certIn, certIn); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
			t.Errorf("no change expected, got %v", d)
		}
		// earlyRenewalHours updates in place.
		upd := certIn.Copy()
		upd["earlyRenewalHours"] = resource.NewProperty(20.0)
		if d := diff(t, s, certTok, cert, certIn, upd); d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 {
			t.Errorf("earlyRenewalHours should update in place, got %v", d)
		}
		// 91 hours on: within the 10 early-renewal hours, replaced.
		now = func() time.Time { return time.Now().Add(91 * time.Hour) }
		d := diff(t, s, certTok, cert, certIn, certIn)
		now = time.Now
		if len(d.GetReplaces()) != 1 || d.GetReplaces()[0] != "readyForRenewal" {
			t.Errorf("a certificate due for renewal should be replaced, got %v", d)
		}
	}
	bad := resource.PropertyMap{"privateKeyPem": resource.NewProperty("x"), "validityPeriodHours": resource.NewProperty(1.0),
		"allowedUses": resource.NewProperty([]resource.PropertyValue{resource.NewProperty("certSigning")})}
	if chk, _ := s.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urn(certTok), News: props(t, bad)}); len(chk.GetFailures()) != 2 {
		t.Errorf("a bad key and a camelCased use should fail Check, got %v", chk.GetFailures())
	}
}
