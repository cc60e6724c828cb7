package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/bcrypt"

	"github.com/groundwork/groundwork/services/chassis"
)

type api struct {
	app    *chassis.App
	keys   signingKey
	issuer string
	ttl    time.Duration
	cost   int
	// dummyHash is compared against when the email is unknown, so a login takes as long
	// whether or not the account exists.
	dummyHash []byte
}

var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// credentials is the body of POST /v1/users and POST /v1/tokens.
type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (c *credentials) validate() error {
	p := chassis.Problems{}
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	a, err := mail.ParseAddress(c.Email)
	p.Add(err != nil || a.Address != c.Email || len(c.Email) > 254, "email", "a plain e-mail address such as ada@example.com")
	// bcrypt reads at most 72 bytes; refuse longer rather than silently ignore the rest.
	p.Add(len(c.Password) < 12 || len(c.Password) > 72, "password", "12 to 72 bytes")
	return p.Err()
}

func (s *api) emit(ctx context.Context, tx pgx.Tx, typ, key string, data any) error {
	e, err := chassis.NewEvent(chassis.EventsTopic(name), typ, chassis.Tenant(ctx), key, data)
	if err != nil {
		return err
	}
	return chassis.Enqueue(ctx, tx, name, e)
}

func (s *api) register(r *http.Request) (int, any, error) {
	var in credentials
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if err := in.validate(); err != nil {
		return 0, nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.cost)
	if err != nil {
		return 0, nil, err
	}
	ctx, id := r.Context(), uuid.New()
	var roles []string
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		// The first user of a tenant becomes its admin; the lock keeps two first users from both
		// becoming it.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('identity.register.' || $1))`, chassis.Tenant(ctx)); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO users (id, tenant_id, email, password_hash, roles)
			VALUES ($1, $2, $3, $4, CASE WHEN EXISTS (SELECT 1 FROM users WHERE tenant_id = $2) THEN '{}'::text[] ELSE '{admin}'::text[] END)
			RETURNING roles`, id, chassis.Tenant(ctx), in.Email, string(hash)).Scan(&roles)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("email %s: %w: already registered", in.Email, chassis.ErrConflict)
		} else if err != nil {
			return err
		}
		return s.emit(ctx, tx, "UserRegistered", id.String(), map[string]any{"user_id": id, "email": in.Email, "roles": roles})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"id": id, "email": in.Email, "roles": roles}, nil
}

func (s *api) login(r *http.Request) (int, any, error) {
	var in credentials
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if in.validate() != nil { // no hints about which part was wrong
		return 0, nil, fmt.Errorf("%w: wrong e-mail or password", chassis.ErrUnauthorized)
	}
	ctx := r.Context()
	var id uuid.UUID
	var hash string
	var roles []string
	err := s.app.DB.QueryRow(ctx, `SELECT id, password_hash, roles FROM users WHERE tenant_id = $1 AND email = $2`,
		chassis.Tenant(ctx), in.Email).Scan(&id, &hash, &roles)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(in.Password))
		return 0, nil, fmt.Errorf("%w: wrong e-mail or password", chassis.ErrUnauthorized)
	} else if err != nil {
		return 0, nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.Password)) != nil {
		return 0, nil, fmt.Errorf("%w: wrong e-mail or password", chassis.ErrUnauthorized)
	}
	token, err := s.issue(id.String(), chassis.Tenant(ctx), roles, time.Now())
	if err != nil {
		return 0, nil, err
	}
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		return s.emit(ctx, tx, "UserAuthenticated", id.String(), map[string]any{"user_id": id})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": int(s.ttl.Seconds())}, nil
}

// assignRole needs a bearer token of an admin of the same tenant.
func (s *api) assignRole(r *http.Request) (int, any, error) {
	ctx := r.Context()
	caller, err := s.validate(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), time.Now())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", chassis.ErrUnauthorized, err)
	}
	if caller.Tenant != chassis.Tenant(ctx) || !slices.Contains(caller.Roles, "admin") {
		return 0, nil, fmt.Errorf("%w: assigning roles needs the admin role in this tenant", chassis.ErrForbidden)
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	var in struct {
		Role string `json:"role"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if !rolePattern.MatchString(in.Role) {
		return 0, nil, chassis.Problems{"role": "lower-case letters, digits, '_' or '-', at most 32"}.Err()
	}
	var roles []string
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE users SET roles = CASE WHEN $3 = ANY(roles) THEN roles ELSE array_append(roles, $3) END
			WHERE tenant_id = $1 AND id = $2 RETURNING roles`, chassis.Tenant(ctx), id, in.Role).Scan(&roles)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("user %s: %w", id, chassis.ErrNotFound)
		} else if err != nil {
			return err
		}
		return s.emit(ctx, tx, "RoleAssigned", id.String(), map[string]any{"user_id": id, "role": in.Role, "by": caller.Subject})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "roles": roles}, nil
}
