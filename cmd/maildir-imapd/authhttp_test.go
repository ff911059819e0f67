package main

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// authRequest sends one auth_http request as nginx does (GET, headers
// only) and returns the response headers.
func authRequest(t *testing.T, addr string, headers map[string]string) http.Header {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+"/auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: waitLimit}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("auth_http status %s", resp.Status)
	}
	return resp.Header
}

func TestAuthHTTP(t *testing.T) {
	dir := t.TempDir()
	hash := testHash(t)
	home := filepath.Join(dir, "home")
	users := writeFile(t, filepath.Join(dir, "users"),
		"alice:"+hash+"::::"+home+"/alice::host=127.0.0.1 port=10143\n"+
			"bob@b.test:"+hash+"::::"+home+"/bob::\n"+
			"carol@c.test:"+hash+"::::"+home+"/carol::\n")
	cfg := defaultConfig()
	cfg.Listen, cfg.ListenTLS, cfg.Users = "127.0.0.1:0", "", users
	cfg.AuthHTTPListen = "127.0.0.1:0"
	cfg.Backends = []string{"b.test=127.0.0.2:20143"}
	cfg.AuthFailureDelay = time.Second
	r := startServe(t, &cfg)
	addr := r.d.OpsAddr("auth_http")

	// nginx escapes the space of the password.
	const escaped = "correct%20horse"
	base := func(user, pass string, attempt string) map[string]string {
		return map[string]string{
			"Auth-Method": "plain", "Auth-User": user, "Auth-Pass": pass, "Auth-Protocol": "imap",
			"Auth-Login-Attempt": attempt, "Client-IP": "192.0.2.42",
		}
	}
	tests := []struct {
		name       string
		headers    map[string]string
		status     string
		server     string
		port, wait string
	}{
		{"host field", base("alice", escaped, "1"), "OK", "127.0.0.1", "10143", ""},
		{"domain map", base("bob@b.test", escaped, "1"), "OK", "127.0.0.2", "20143", ""},
		{"no backend", base("carol@c.test", escaped, "1"), statusTemporary, "", "", ""},
		{"wrong password", base("alice", "wrong", "1"), statusInvalid, "", "", "1"},
		{"unknown user", base("nobody", escaped, "2"), statusInvalid, "", "", "1"},
		{"last attempt", base("alice", "wrong", "3"), statusInvalid, "", "", ""},
		{"cram-md5", func() map[string]string {
			h := base("alice", escaped, "1")
			h["Auth-Method"] = "cram-md5"
			return h
		}(), "Unsupported authentication method", "", "", ""},
		{"pop3", func() map[string]string {
			h := base("alice", escaped, "1")
			h["Auth-Protocol"] = "pop3"
			return h
		}(), "Unsupported protocol", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := authRequest(t, addr, tc.headers)
			got := [4]string{h.Get("Auth-Status"), h.Get("Auth-Server"), h.Get("Auth-Port"), h.Get("Auth-Wait")}
			want := [4]string{tc.status, tc.server, tc.port, tc.wait}
			if got != want {
				t.Errorf("Auth-Status, -Server, -Port, -Wait = %q, want %q", got, want)
			}
		})
	}
}

// The throttle is the IMAP logins': ten failures from one client address,
// through auth_http, and the eleventh attempt is refused even with the
// right password; another address is not affected.
func TestAuthHTTP_throttle(t *testing.T) {
	cfg := testConfig(t)
	cfg.AuthHTTPListen = "127.0.0.1:0"
	cfg.Backends = []string{"*=127.0.0.1"}
	cfg.AuthFailureDelay = 0
	r := startServe(t, cfg)
	addr := r.d.OpsAddr("auth_http")
	req := func(pass, ip string) http.Header {
		return authRequest(t, addr, map[string]string{
			"Auth-Method": "login", "Auth-User": testUser, "Auth-Pass": pass, "Auth-Protocol": "imap",
			"Auth-Login-Attempt": "1", "Client-IP": ip,
		})
	}
	for range 10 {
		if h := req("wrong", "192.0.2.7"); h.Get("Auth-Status") != statusInvalid {
			t.Fatalf("wrong password: Auth-Status %q", h.Get("Auth-Status"))
		}
	}
	if h := req("correct%20horse", "192.0.2.7"); h.Get("Auth-Status") == "OK" {
		t.Fatal("throttled address logged in")
	}
	if h := req("correct%20horse", "192.0.2.8"); h.Get("Auth-Status") != "OK" || h.Get("Auth-Port") != "143" {
		t.Fatalf("other address: %v", h)
	}
}

// Only the trusted proxies (or, with none, loopback) may ask.
func TestAuthHTTP_untrustedRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.AuthHTTPListen = "127.0.0.1:0"
	cfg.ProxyTrusted = []string{"192.0.2.0/24"}
	r := startServe(t, cfg)
	resp, err := http.Get("http://" + r.d.OpsAddr("auth_http") + "/auth")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %s, want 403", resp.Status)
	}
}
