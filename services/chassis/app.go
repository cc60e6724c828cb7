package chassis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Service is what a domain service gives the chassis.
type Service struct {
	Name       string // DNS label; also the event source and the Kafka group prefix
	Migrations fs.FS  // NNN_name.sql files at its root
	// Setup reads the service's own settings from getenv, registers its routes on mux and
	// returns its event consumers. Every setting problem is returned at once.
	Setup func(a *App, getenv func(string) string, mux *http.ServeMux) ([]Consumer, error)
	// Public are the route patterns ("POST /v1/tokens") served without a token; every other
	// route needs a valid access token (health and readiness are always public).
	Public []string
}

// App is a running service: its configuration, logger, database pool and metrics.
type App struct {
	Config    Config
	Log       *slog.Logger
	DB        *pgxpool.Pool
	Metrics   *Metrics
	Consumers []Consumer
	handler   http.Handler
	draining  atomic.Bool
	// KafkaOpts are added to every Kafka client (TLS, SASL; tests set timeouts).
	KafkaOpts []kgo.Opt
	// Keys verify access tokens. Setup may set them (identity verifies with its own keys);
	// otherwise they come from identity's JWKS at JWKS_URL.
	Keys          KeySource
	verifier      *Verifier
	lifecycleSnap lifecycleSnapshot
}

// New connects to the database (waiting up to a minute for it), runs the migrations and sets up
// the service's routes and consumers.
func New(ctx context.Context, svc Service, cfg Config, getenv func(string) string, log *slog.Logger) (*App, error) {
	a := &App{Config: cfg, Log: log, Metrics: NewMetrics(), KafkaOpts: cfg.Kafka.Opts()}
	mux := http.NewServeMux()
	consumers, err := svc.Setup(a, getenv, mux)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Name, err)
	}
	if a.verifier, err = authSettings(getenv, a.Keys); err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Name, err)
	}
	a.Consumers = append(consumers, Consumer{Name: "lifecycle", Topics: LifecycleTopics, Handle: applyLifecycle})
	a.deadLetterRoutes(mux)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if a.DB, err = Connect(cctx, cfg.DatabaseURL, cfg.DBMaxConns); err != nil {
		return nil, err
	}
	if err := Migrate(ctx, a.DB, svc.Name, svc.Migrations); err != nil {
		a.DB.Close()
		return nil, err
	}
	a.Metrics.WatchPool(a.DB)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	a.handler = middleware(log, a.Metrics, timeout, a.authenticate(mux, svc.Public))
	return a, nil
}

// Handler is the service's HTTP handler: its routes, /healthz and /readyz.
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler serves /metrics; it listens on a port of its own, outside the mesh.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}))
	return mux
}

// readyz answers 200 when the database answers within a second and the service is not shutting
// down. Kafka is not checked: commands only need the database, and the outbox holds their events
// while Kafka is away (outbox_events_pending shows the backlog).
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	if a.draining.Load() {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := a.DB.Ping(ctx); err != nil {
		Logger(r.Context()).Warn("not ready: database", "err", err)
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
}

// Serve runs the relay, the consumers, the API on ln and /metrics on metricsLn (if not nil)
// until ctx ends, then shuts down gracefully: unready first (DrainDelay, so load balancers stop
// sending), then in-flight requests finish within ShutdownTimeout, then the relay and consumers
// stop and the pool closes.
func (a *App) Serve(ctx context.Context, ln, metricsLn net.Listener) error {
	defer a.DB.Close()
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = NewRelay(a.DB, a.Config, a.Log, a.Metrics, a.KafkaOpts...).Run(bg) })
	wg.Go(func() { housekeeping(bg, a.DB, a.Metrics, a.Log, 5*time.Second) })
	for _, c := range a.Consumers {
		wg.Go(func() {
			if err := runConsumer(bg, a.DB, a.Config, c, a.Log, a.Metrics, a.KafkaOpts...); err != nil {
				a.Log.Error("consumer stopped", "consumer", c.Name, "err", err)
			}
		})
	}
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	msrv := &http.Server{Handler: a.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	if metricsLn != nil {
		go func() { errc <- msrv.Serve(metricsLn) }()
	}
	a.Log.Info("serving", "addr", ln.Addr().String(), "config", a.Config)
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		a.draining.Store(true)
		a.Log.Info("shutting down", "drain_delay", a.Config.DrainDelay.String())
		time.Sleep(a.Config.DrainDelay)
		sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		_ = msrv.Shutdown(sctx)
		cancel()
	}
	stopBG()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Main is a service's main: configuration from the environment, SIGTERM/SIGINT for graceful
// shutdown, exit status 1 on any start-up error.
func Main(svc Service) {
	log := NewLogger(os.Stdout, slog.LevelInfo, svc.Name)
	cfg, err := LoadConfig(svc.Name, os.Getenv)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(1)
	}
	log = NewLogger(os.Stdout, cfg.LogLevel, svc.Name)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := New(ctx, svc, cfg, os.Getenv, log)
	if err != nil {
		log.Error("start-up", "err", err)
		os.Exit(1)
	}
	if len(os.Args) > 1 && os.Args[1] == "dead-letters" {
		err := replayCLI(ctx, a, os.Args[2:], func(v any) {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(v)
		})
		a.DB.Close()
		if err != nil {
			log.Error("dead-letters", "err", err)
			os.Exit(1)
		}
		return
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	mln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.MetricsPort))
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	if err := a.Serve(ctx, ln, mln); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
	log.Info("stopped")
}
