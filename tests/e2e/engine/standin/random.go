package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
)

// Character sets of terraform-provider-random's random_password / random_string.
const (
	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars = "0123456789"
	specialChars = "!@#$%&*()-_=+[]{}<>:?"
)

func randomKinds() []*kind {
	t, zero := resource.NewProperty(true), resource.NewProperty(0.0)
	return []*kind{{
		token: "random:index/randomPassword:RandomPassword",
		inputs: map[string]resource.PropertyValue{
			"length": null, "keepers": null, "overrideSpecial": null,
			"special": t, "upper": t, "lower": t, "numeric": t, "number": t,
			"minLower": zero, "minUpper": zero, "minNumeric": zero, "minSpecial": zero,
		},
		// Every input of random_password carries RequiresReplace upstream.
		computed: []string{"result", "bcryptHash"},
		secret:   []string{"result", "bcryptHash"},
		check:    checkPassword,
		create:   createPassword,
	}, {
		token:    "random:index/randomId:RandomId",
		inputs:   map[string]resource.PropertyValue{"byteLength": null, "keepers": null, "prefix": null},
		computed: []string{"b64Url", "b64Std", "hex", "dec"},
		check: func(in resource.PropertyMap) []*pulumirpc.CheckFailure {
			if !known(in, "byteLength") {
				return nil
			}
			if _, ok := in["byteLength"]; !ok {
				return []*pulumirpc.CheckFailure{failure("byteLength", "byteLength is required")}
			}
			if num(in, "byteLength") < 1 {
				return []*pulumirpc.CheckFailure{failure("byteLength", "byteLength must be at least 1, got %d", num(in, "byteLength"))}
			}
			return nil
		},
		create: createID,
	}}
}

func checkPassword(in resource.PropertyMap) []*pulumirpc.CheckFailure {
	if _, ok := in["length"]; !ok {
		return []*pulumirpc.CheckFailure{failure("length", "length is required")}
	}
	for _, k := range []string{"length", "minLower", "minUpper", "minNumeric", "minSpecial", "upper", "lower", "numeric", "number", "special"} {
		if !known(in, k) {
			return nil
		}
	}
	var fs []*pulumirpc.CheckFailure
	length := num(in, "length")
	if length < 1 {
		fs = append(fs, failure("length", "length must be at least 1, got %d", length))
	}
	mins := num(in, "minLower") + num(in, "minUpper") + num(in, "minNumeric") + num(in, "minSpecial")
	if length < mins {
		fs = append(fs, failure("length", "length (%d) must be at least minUpper + minLower + minNumeric + minSpecial (%d)", length, mins))
	}
	if !boolean(in, "upper") && !boolean(in, "lower") && !numeric(in) && !boolean(in, "special") {
		fs = append(fs, failure("length", "at least one of upper, lower, numeric and special must be true"))
	}
	return fs
}

// numeric is upstream's numeric with the deprecated number: either set false turns digits off.
func numeric(in resource.PropertyMap) bool { return boolean(in, "numeric") && boolean(in, "number") }

func createPassword(in resource.PropertyMap) (string, resource.PropertyMap, error) {
	special := specialChars
	if s := str(in, "overrideSpecial"); s != "" {
		special = s
	}
	var all string
	for _, c := range []struct {
		on    bool
		chars string
	}{{boolean(in, "upper"), upperChars}, {boolean(in, "lower"), lowerChars}, {numeric(in), numericChars}, {boolean(in, "special"), special}} {
		if c.on {
			all += c.chars
		}
	}
	// As upstream: the minimum of each class first, the rest from every enabled class, shuffled.
	var result []byte
	for _, m := range []struct {
		chars string
		n     int
	}{{numericChars, num(in, "minNumeric")}, {lowerChars, num(in, "minLower")}, {upperChars, num(in, "minUpper")}, {special, num(in, "minSpecial")}} {
		b, err := randomChars(m.chars, m.n)
		if err != nil {
			return "", nil, err
		}
		result = append(result, b...)
	}
	rest, err := randomChars(all, num(in, "length")-len(result))
	if err != nil {
		return "", nil, err
	}
	result = append(result, rest...)
	for i := len(result) - 1; i > 0; i-- { // Fisher-Yates with crypto/rand
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", nil, err
		}
		result[i], result[j.Int64()] = result[j.Int64()], result[i]
	}
	// bcrypt reads at most 72 bytes; upstream hashes the first 72.
	hash, err := bcrypt.GenerateFromPassword(result[:min(len(result), 72)], bcrypt.DefaultCost)
	if err != nil {
		return "", nil, err
	}
	return "none", resource.PropertyMap{
		"result":     resource.NewProperty(string(result)),
		"bcryptHash": resource.NewProperty(string(hash)),
		// upstream keeps number and numeric equal
		"numeric": resource.NewProperty(numeric(in)),
		"number":  resource.NewProperty(numeric(in)),
	}, nil
}

func randomChars(chars string, n int) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	if chars == "" {
		return nil, fmt.Errorf("no characters to choose %d from", n)
	}
	out := make([]byte, n)
	for i := range out {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			return nil, err
		}
		out[i] = chars[j.Int64()]
	}
	return out, nil
}

// createID is upstream's random_id: the ID is the bytes in unpadded base64url; the outputs carry
// the prefix.
func createID(in resource.PropertyMap) (string, resource.PropertyMap, error) {
	b := make([]byte, num(in, "byteLength"))
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	prefix := str(in, "prefix")
	return id, resource.PropertyMap{
		"b64Url": resource.NewProperty(prefix + id),
		"b64Std": resource.NewProperty(prefix + base64.StdEncoding.EncodeToString(b)),
		"hex":    resource.NewProperty(prefix + hex.EncodeToString(b)),
		"dec":    resource.NewProperty(prefix + new(big.Int).SetBytes(b).String()),
	}, nil
}
