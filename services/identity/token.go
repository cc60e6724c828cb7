package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/groundwork/groundwork/services/chassis"
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
	return signingKey{private: ec, kid: chassis.KeyID(&ec.PublicKey)}, nil
}

// parseVerifyKeys reads JWT_VERIFY_KEYS: PEM public keys (PKIX) of earlier signing keys, still
// published and accepted while tokens they signed may be alive. This is how the signing key
// rotates: the new key signs, the old one only verifies until its last token expires.
func parseVerifyKeys(pemText string) ([]*ecdsa.PublicKey, error) {
	var out []*ecdsa.PublicKey
	rest := []byte(pemText)
	for i := 0; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		ec, ok := k.(*ecdsa.PublicKey)
		if err != nil || !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("JWT_VERIFY_KEYS: key %d is not a PEM ECDSA P-256 public key", i)
		}
		out = append(out, ec)
	}
	return out, nil
}

func (s *api) issue(userID, tenant string, roles, perms []string, now time.Time) (string, error) {
	c := chassis.Claims{Tenant: tenant, Roles: roles, Perms: perms, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: s.issuer, Subject: userID, Audience: jwt.ClaimStrings{chassis.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
	}}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = s.keys.kid
	return t.SignedString(s.keys.private)
}
