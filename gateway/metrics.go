package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveMetrics serves the control plane's collector on addr, at /metrics
// (which gathers at most once per plane.MetricsInterval), with the Go
// runtime's and the process's collectors beside it (go_*, process_*:
// process_resident_memory_bytes includes the session tables, allocated and
// touched at start).
func (g *Gateway) serveMetrics(addr string, c prometheus.Collector) (*http.Server, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{c, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint %s: %w (set [ctl] metrics to another address, or \"\" to disable)", addr, err)
	}
	mux := http.NewServeMux()
	// Scrapes beyond a few at once are refused at once (503) rather than
	// queued, and a client cannot hold a connection open by being slow.
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 8, Timeout: 10 * time.Second}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("metrics endpoint failed", "err", err)
		}
	}()
	return srv, nil
}
