package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is the ES256 key tokens are signed with; kid identifies it in the JWKS.
type signingKey struct {
	private *ecdsa.PrivateKey
	kid     string
}

// parseSigningKey reads a PEM PKCS#8 P-256 private key. Its errors never include the key.
func parseSigningKey(pemText string) (signingKey, error) {
	if pemText == "" {
		return signingKey{}, errors.New("JWT_SIGNING_KEY: required (PEM PKCS#8 ECDSA P-256 private key)")
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return signingKey{}, errors.New("JWT_SIGNING_KEY: not PEM (value not shown)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return signingKey{}, errors.New("JWT_SIGNING_KEY: not a PKCS#8 private key (value not shown)")
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return signingKey{}, errors.New("JWT_SIGNING_KEY: must be an ECDSA P-256 key (ES256)")
	}
	pub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	sum := sha256.Sum256(pub)
	return signingKey{private: ec, kid: base64.RawURLEncoding.EncodeToString(sum[:8])}, nil
}

// claims of an access token: subject is the user ID.
type claims struct {
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
	jwt.RegisteredClaims
}

func (s *api) issue(userID, tenant string, roles []string, now time.Time) (string, error) {
	c := claims{Tenant: tenant, Roles: roles, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: s.issuer, Subject: userID, Audience: jwt.ClaimStrings{"groundwork"},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
	}}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = s.keys.kid
	return t.SignedString(s.keys.private)
}

// validate checks signature, algorithm, issuer, audience and times of raw.
func (s *api) validate(raw string, now time.Time) (*claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.keys.kid {
			return nil, errors.New("unknown key id")
		}
		return &s.keys.private.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(s.issuer), jwt.WithAudience("groundwork"),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return &c, nil
}

// jwk is the public key in JWKS form, for the gateway and other services to verify tokens.
func (k signingKey) jwk() map[string]string {
	pt, _ := k.private.PublicKey.ECDH() // P-256 always converts
	raw := pt.Bytes()                   // uncompressed point: 0x04 || X || Y
	return map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": k.kid,
		"x": base64.RawURLEncoding.EncodeToString(raw[1:33]), "y": base64.RawURLEncoding.EncodeToString(raw[33:65])}
}
