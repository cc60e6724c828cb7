package chassis

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var chassisMigrations embed.FS

// Connect opens a pool to url and waits, up to ctx's deadline, for the database to answer, so a
// pod that starts before its database does not crash-loop at once. Errors never repeat the URL.
// maxConns 0 keeps pgx's default.
func Connect(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("database: DATABASE_URL cannot be parsed (value not shown)")
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 10 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	for wait := 100 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = pool.Ping(pctx)
		cancel()
		if err == nil {
			return pool, nil
		}
		select {
		case <-ctx.Done():
			pool.Close()
			return nil, fmt.Errorf("database: not reachable: %w", err)
		case <-time.After(wait):
		}
	}
}

var migrationName = regexp.MustCompile(`^(\d{3})_[a-z0-9_]+\.sql$`)

// Migrate applies the chassis's own migrations and then the *.sql files of fsys (named
// NNN_what.sql, applied in order, each once, each in its own transaction). Replicas starting
// together serialise on an advisory lock, so each file runs exactly once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, service string, fsys fs.FS) error {
	sub, _ := fs.Sub(chassisMigrations, "migrations")
	if err := migrate(ctx, pool, "chassis", sub); err != nil {
		return err
	}
	if fsys == nil {
		return nil
	}
	return migrate(ctx, pool, service, fsys)
}

func migrate(ctx context.Context, pool *pgxpool.Pool, component string, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return fmt.Errorf("migrations %s: %w", component, err)
	}
	slices.Sort(names)
	for _, n := range names {
		if !migrationName.MatchString(n) {
			return fmt.Errorf("migrations %s: file %q: name must be NNN_lower_snake.sql", component, n)
		}
	}
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('groundwork.schema_migrations'))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			component text NOT NULL, version text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (component, version))`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrations %s: %w", component, err)
	}
	for _, n := range names {
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			return fmt.Errorf("migrations %s: %w", component, err)
		}
		version := path.Base(n)
		err = InTx(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('groundwork.schema_migrations'))`); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE component = $1 AND version = $2)`,
				component, version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (component, version) VALUES ($1, $2)`, component, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrations %s: %s: %w", component, version, err)
		}
	}
	return nil
}

// InTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
