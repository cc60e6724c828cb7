package chassis

import (
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports the database pool's statistics when scraped: connections by state
// against the maximum, and how often and how long requests waited for one (the pool is the
// service's database saturation signal).
type poolCollector struct {
	pool                      atomic.Pointer[pgxpool.Pool]
	conns, max                *prometheus.Desc
	acquires, waits, waitTime *prometheus.Desc
}

func newPoolCollector() *poolCollector {
	return &poolCollector{
		conns:    prometheus.NewDesc("db_pool_connections", "Database connections of the pool by state: acquired (in use), idle, constructing.", []string{"state"}, nil),
		max:      prometheus.NewDesc("db_pool_max_connections", "The most connections the pool opens (DB_MAX_CONNS).", nil, nil),
		acquires: prometheus.NewDesc("db_pool_acquires_total", "Connections taken from the pool.", nil, nil),
		waits:    prometheus.NewDesc("db_pool_empty_acquires_total", "Connections taken from the pool that had to wait: none was idle.", nil, nil),
		waitTime: prometheus.NewDesc("db_pool_acquire_wait_seconds_total", "Time spent taking connections from the pool, waits included.", nil, nil),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.max, c.acquires, c.waits, c.waitTime} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.pool.Load()
	if p == nil {
		return
	}
	s := p.Stat()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitTime, prometheus.CounterValue, s.AcquireDuration().Seconds())
}

// WatchPool exports pool's statistics on /metrics from now on.
func (m *Metrics) WatchPool(pool *pgxpool.Pool) { m.pool.pool.Store(pool) }
