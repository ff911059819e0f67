package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/metrics"
	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/proxyproto"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
)

// The daemon's operational side: nginx's auth_http service, the PROXY
// protocol on the IMAP listeners, and the metrics endpoint.

// opsReadTimeout bounds reading a request of auth_http or /metrics.
const opsReadTimeout = 10 * time.Second

// newMetrics creates the daemon's metrics when cfg turns them on and
// returns them as the backend's hook (nil, not a nil pointer, when off).
func (d *daemon) newMetrics(cfg *Config) maildirbackend.Metrics {
	if cfg.MetricsListen == "" {
		return nil
	}
	d.metrics = metrics.New()
	d.metrics.WatchStats(d.watcher.Stats)
	d.metrics.Connections(d.countConns)
	return d.metrics
}

// withProxyProtocol wraps an IMAP listener in the PROXY protocol reader
// when cfg trusts proxies.
func (d *daemon) withProxyProtocol(ln net.Listener, cfg *Config) net.Listener {
	if len(cfg.ProxyTrusted) == 0 {
		return ln
	}
	trusted, _ := parseTrusted(cfg.ProxyTrusted) // checked by validate
	d.log.Info("PROXY protocol required from", "addr", ln.Addr().String(), "proxies", cfg.ProxyTrusted)
	return proxyproto.NewListener(ln, &proxyproto.Options{Trusted: trusted, Logger: d.log})
}

// listenOps binds the auth_http and metrics listeners of cfg and returns
// the functions that start serving them (once the process has its final
// identity).
func (d *daemon) listenOps(cfg *Config, users *users) ([]func(), error) {
	var pending []func()
	if cfg.AuthHTTPListen != "" {
		routes, err := parseBackends(cfg.Backends)
		if err != nil {
			return nil, err
		}
		trusted, err := parseTrusted(cfg.ProxyTrusted)
		if err != nil {
			return nil, err
		}
		h := &authHTTP{
			backend:     d.backend,
			verify:      users.verify,
			routes:      routes,
			trusted:     trusted,
			maxAttempts: maildirbackend.DefaultMaxAuthFailures,
			log:         d.log,
			metrics:     d.metrics,
			sleep:       time.Sleep,
		}
		serve, err := d.listenHTTP("auth_http", cfg.AuthHTTPListen, h)
		if err != nil {
			return nil, err
		}
		pending = append(pending, serve)
	}
	if cfg.MetricsListen != "" {
		serve, err := d.listenHTTP("metrics", cfg.MetricsListen, d.metrics.Handler(d.healthy))
		if err != nil {
			return nil, err
		}
		pending = append(pending, serve)
	}
	return pending, nil
}

// listenHTTP binds addr for an HTTP service and returns the function that
// serves h on it.
func (d *daemon) listenHTTP(name, addr string, h http.Handler) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: opsReadTimeout, ReadTimeout: opsReadTimeout}
	d.ops = append(d.ops, srv)
	d.listeners = append(d.listeners, ln) // closed at shutdown and on a failed start
	bound := ln.Addr().String()
	if d.opsAddrs == nil {
		d.opsAddrs = make(map[string]string)
	}
	d.opsAddrs[name] = bound
	return func() {
		d.log.Info(name+" listening", "addr", bound)
		d.serving.Add(1)
		go func() {
			defer d.serving.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				d.serveErr <- fmt.Errorf("%s %s: %w", name, bound, err)
			}
		}()
	}, nil
}

// OpsAddr returns the bound address of the "auth_http" or "metrics"
// service, "" when it is off.
func (d *daemon) OpsAddr(name string) string { return d.opsAddrs[name] }

// healthy is /healthz: the daemon serves until shutdown begins.
func (d *daemon) healthy() error {
	if d.isClosing() {
		return errors.New("shutting down")
	}
	return nil
}

// closeOps stops the HTTP services, letting requests in flight finish for
// a moment.
func (d *daemon) closeOps() {
	for _, srv := range d.ops {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		cancel()
	}
}
