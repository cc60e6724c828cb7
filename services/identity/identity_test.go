package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

func newKeyPEM(t *testing.T, curve elliptic.Curve) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestParseSigningKey(t *testing.T) {
	tests := []struct{ name, give, wantErr string }{
		{"valid", newKeyPEM(t, elliptic.P256()), ""},
		{"missing", "", "JWT_SIGNING_KEY: required"},
		{"not PEM", "c2VjcmV0LWtleS1tYXRlcmlhbA==", "JWT_SIGNING_KEY: not PEM"},
		{"wrong curve", newKeyPEM(t, elliptic.P384()), "must be an ECDSA P-256 key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSigningKey(tt.give)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
			if err != nil && tt.give != "" && strings.Contains(err.Error(), tt.give[:20]) {
				t.Fatal("error shows the key")
			}
		})
	}
}

func publicPEM(t *testing.T, k signingKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.private.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// The login, registration, refresh and JWKS reach the service without a token: Kong serves them on an auth: none route.
func TestPublicRoutesAreOpenAtTheGateway(t *testing.T) {
	servicetest.CheckPublicRoutesOpenAtGateway(t, "..", service())
}
