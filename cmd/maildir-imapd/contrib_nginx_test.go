package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// The maildir-imapd configurations of contrib/nginx/ load and validate.
func TestContribNginx_configs(t *testing.T) {
	for _, name := range []string{"backend.toml", "director.toml"} {
		t.Run(name, func(t *testing.T) {
			cfg := defaultConfig()
			if err := loadConfigFile(filepath.Join("..", "..", "contrib", "nginx", name), &cfg); err != nil {
				t.Fatal(err)
			}
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			if name == "director.toml" && (cfg.AuthHTTPListen == "" || len(cfg.Backends) == 0) {
				t.Error("director.toml serves no auth_http")
			}
			if name == "backend.toml" && len(cfg.ProxyTrusted) == 0 {
				t.Error("backend.toml trusts no proxy")
			}
		})
	}
}

// The users of contrib/nginx/users are routed as postfix-transport routes
// their mail.
func TestContribNginx_routes(t *testing.T) {
	cfg := defaultConfig()
	if err := loadConfigFile(filepath.Join("..", "..", "contrib", "nginx", "director.toml"), &cfg); err != nil {
		t.Fatal(err)
	}
	routes, err := parseBackends(cfg.Backends)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "contrib", "nginx", "users"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := passwdfile.Parse(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"alice@example.org": "10.0.0.11:143",
		"bob@example.org":   "10.0.0.12:143",
		"carol@example.net": "10.0.0.12:143",
	}
	for name, addr := range want {
		u, ok := f.Lookup(name)
		if !ok {
			t.Fatalf("%s not in contrib/nginx/users", name)
		}
		if got, err := routes.lookup(u); err != nil || got != addr {
			t.Errorf("%s: backend %q, %v; want %s", name, got, err, addr)
		}
	}
}
