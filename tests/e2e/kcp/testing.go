package kcp

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// StartT starts a control plane for a test, or skips it where the binaries are not built (under
// CI=true that fails it instead: CI never passes without the cluster). The cluster stops when
// the test ends, printing the processes' last log lines if it failed. o.Logf defaults to t.Logf.
func StartT(t testing.TB, o Options) *Cluster {
	t.Helper()
	if _, err := BinDir(); err != nil {
		if errors.Is(err, ErrNotBuilt) && os.Getenv("CI") != "true" {
			t.Skipf("skipping: %v", err)
		}
		t.Fatal(err)
	}
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the control plane:\n%s", c.LogTails(20))
		}
		c.Stop()
	})
	return c
}
