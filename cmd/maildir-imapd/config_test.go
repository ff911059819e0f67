package main

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfig_fileErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []string // substrings of the error
	}{
		{
			name: "unknown key",
			toml: "listen = \"127.0.0.1:1143\"\nlisten_tsl = \":993\"\n",
			want: []string{"line 2", `unknown key "listen_tsl"`},
		},
		{
			name: "unknown table",
			toml: "log_level = \"info\"\n\n[tls]\ncert = \"x\"\nkey = \"y\"\n",
			want: []string{"line 3", `unknown key "tls"`},
		},
		{
			name: "two unknown keys",
			toml: "bogus = 1\nlisten = \":143\"\nflag_with_dash = true\n",
			want: []string{"line 1", `"bogus"`, "line 3", `"flag_with_dash"`},
		},
		{
			name: "wrong type",
			toml: "\nappend_limit = \"lots\"\n",
			want: []string{"line 2", "append_limit"},
		},
		{
			name: "bad duration",
			toml: "poll_interval = \"soon\"\n",
			want: []string{"line 1", "poll_interval"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "maildir-imapd.toml"), tt.toml)
			_, err := parseConfig("serve", []string{"--config", path})
			if err == nil {
				t.Fatal("parseConfig succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfig_flagsOverrideFile(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "c.toml"), `
listen = "127.0.0.1:1143"
log_level = "debug"
poll_interval = "2s"
append_limit = 1000
utf8_folder_names = true
`)
	cfg, err := parseConfig("serve", []string{"--listen", "127.0.0.1:2143", "--config", path, "--append-limit", "2000", "--utf8-folder-names=false"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen (flag)", cfg.Listen, "127.0.0.1:2143"},
		{"append_limit (flag)", cfg.AppendLimit, uint32(2000)},
		{"utf8_folder_names (flag)", cfg.UTF8FolderNames, false},
		{"log_level (file)", cfg.LogLevel, "debug"},
		{"poll_interval (file)", cfg.PollInterval, 2 * time.Second},
		{"listen_tls (default)", cfg.ListenTLS, defaultListenTLS},
		{"mail_location (default)", cfg.MailLocation, defaultMailLocation},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestConfig_validate(t *testing.T) {
	base := func() Config {
		c := defaultConfig()
		c.Listen = "127.0.0.1:143"
		c.Users = "/etc/maildir-imapd/users"
		return c
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // "" for valid
	}{
		{name: "loopback plaintext", modify: func(c *Config) {}},
		{name: "localhost", modify: func(c *Config) { c.Listen = "localhost:143" }},
		{name: "public plaintext", modify: func(c *Config) { c.Listen = ":143" }, want: "nobody could log in"},
		{name: "public with allow-insecure-auth", modify: func(c *Config) { c.Listen = ":143"; c.AllowInsecureAuth = true }},
		{name: "public with TLS", modify: func(c *Config) { c.Listen = ":143"; c.TLSCert, c.TLSKey = "c", "k" }},
		{name: "cert without key", modify: func(c *Config) { c.TLSCert = "c" }, want: "together"},
		{name: "listen-tls without cert", modify: func(c *Config) { c.ListenTLS = ":9993" }, want: "needs tls-cert"},
		{name: "nothing to listen on", modify: func(c *Config) { c.Listen = "" }, want: "nothing to listen on"},
		{name: "bad address", modify: func(c *Config) { c.Listen = "143" }, want: "listen"},
		{name: "bad prefix", modify: func(c *Config) { c.Prefix = "INBOX/" }, want: "prefix"},
		{name: "courier prefix", modify: func(c *Config) { c.Prefix = "INBOX." }},
		{name: "bad log level", modify: func(c *Config) { c.LogLevel = "loud" }, want: "log-level"},
		{name: "bad log format", modify: func(c *Config) { c.LogFormat = "xml" }, want: "log-format"},
		{name: "zero poll interval", modify: func(c *Config) { c.PollInterval = 0 }, want: "poll-interval"},
		{name: "no users", modify: func(c *Config) { c.Users = "" }, want: "no users"},
		{name: "both modes", modify: func(c *Config) { c.Maildir = "/m" }, want: "choose one"},
		{name: "single user", modify: func(c *Config) {
			c.Users, c.Maildir, c.User, c.PasswordHash = "", "/m", "me", "{PLAIN}x"
		}},
		{name: "single user without hash", modify: func(c *Config) {
			c.Users, c.Maildir, c.User = "", "/m", "me"
		}, want: "exactly one of password-hash and password-file"},
		{name: "single user without name", modify: func(c *Config) {
			c.Users, c.Maildir, c.PasswordHash = "", "/m", "{PLAIN}x"
		}, want: "needs both maildir and user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.modify(&c)
			err := c.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// List keys: the flag (comma-separated, repeatable) replaces the file's
// list; without the flag the file's list stands.
func TestConfig_listFlags(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "c.toml"), `
backends = ["a.test=10.0.0.1:143", "*=10.0.0.2"]
proxy_trusted = ["10.0.0.0/8"]
`)
	cfg, err := parseConfig("serve", []string{"--config", path, "--proxy-trusted", "192.0.2.1, 192.0.2.0/24", "--proxy-trusted", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Backends, " "); got != "a.test=10.0.0.1:143 *=10.0.0.2" {
		t.Errorf("backends = %q, want the file's", got)
	}
	if got := strings.Join(cfg.ProxyTrusted, " "); got != "192.0.2.1 192.0.2.0/24 ::1" {
		t.Errorf("proxy-trusted = %q, want the flags' only", got)
	}
}

func TestConfig_validateProxy(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want string // "" valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"all set", func(c *Config) {
			c.AuthHTTPListen, c.MetricsListen = "127.0.0.1:9143", "127.0.0.1:9154"
			c.Backends = []string{"alice@a.test=[2001:db8::1]:143", "b.test=backend-b", "*=10.0.0.2:10143"}
			c.ProxyTrusted = []string{"10.0.0.1", "2001:db8::/32"}
		}, ""},
		{"bad backend", func(c *Config) { c.Backends = []string{"a.test"} }, "backends"},
		{"bad backend port", func(c *Config) { c.Backends = []string{"a.test=h:0"} }, "bad port"},
		{"duplicate backend", func(c *Config) { c.Backends = []string{"a.test=h", "A.test=i"} }, "twice"},
		{"bad network", func(c *Config) { c.ProxyTrusted = []string{"10.0.0.0/33"} }, "proxy-trusted"},
		{"bad auth_http address", func(c *Config) { c.AuthHTTPListen = "9143" }, "auth-http-listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.edit(cfg)
			err := cfg.validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate: %v, want an error about %q", err, tt.want)
			}
		})
	}
}

// TestConfig_contribSamples: the sample configurations of contrib/ use
// only known keys and valid values.
func TestConfig_contribSamples(t *testing.T) {
	paths, err := filepath.Glob("../../contrib/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../contrib/*/*.toml")
	paths = append(paths, more...)
	if len(paths) < 3 {
		t.Fatalf("found only %v", paths)
	}
	for _, p := range paths {
		cfg := defaultConfig()
		if err := loadConfigFile(p, &cfg); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if err := cfg.validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestConfig_serverMetadata(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []string
		want    map[string]string
		bad     bool
	}{
		{"admin and vendor", []string{"/shared/admin=mailto:pm@example.org", "/Shared/Vendor/deltachat/irohrelay=https://r.example.org/?a=b"},
			map[string]string{"/shared/admin": "mailto:pm@example.org", "/shared/vendor/deltachat/irohrelay": "https://r.example.org/?a=b"}, false},
		{"no value", []string{"/shared/admin"}, nil, true},
		{"private", []string{"/private/comment=x"}, nil, true},
		{"bad name", []string{"/shared//x=y"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{ServerMetadata: tc.entries}
			got, err := c.serverMetadata()
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want bad %v", err, tc.bad)
			}
			if !tc.bad && !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
