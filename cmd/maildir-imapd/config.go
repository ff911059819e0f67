package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/quota"
)

// Defaults of the serve configuration, documented here once. Every field of
// Config is also a `serve` flag (with - for _) and a key of the TOML file.
const (
	defaultListen       = ":143"
	defaultListenTLS    = ":993"
	defaultMailLocation = "~/Maildir"
	defaultPollInterval = 5 * time.Second
	defaultLogLevel     = "info"
	defaultLogFormat    = "text"
	// Connection and login protection; see Config.
	defaultMaxConnectionsPerIP  = 50
	defaultMaxUserIPConnections = 10 // Dovecot's mail_max_userip_connections
	defaultLoginTimeout         = time.Minute
	defaultTLSHandshakeTimeout  = 10 * time.Second
	defaultAuthFailureDelay     = 2 * time.Second // Dovecot's auth_failure_delay
	defaultRecipientDelimiter   = "+"             // Dovecot's recipient_delimiter
)

// Config is the configuration of `serve`, `check` and (partly) `demo`.
type Config struct {
	Listen            string        `toml:"listen"`              // STARTTLS/plain IMAP address; "" disables
	ListenTLS         string        `toml:"listen_tls"`          // implicit-TLS address; used only with a certificate
	TLSCert           string        `toml:"tls_cert"`            // PEM certificate chain
	TLSKey            string        `toml:"tls_key"`             // PEM private key
	Users             string        `toml:"users"`               // Dovecot passwd-file
	MailLocation      string        `toml:"mail_location"`       // Dovecot-style template for users of Users
	Maildir           string        `toml:"maildir"`             // single-user mode: the Maildir
	User              string        `toml:"user"`                // single-user mode: the user name
	PasswordHash      string        `toml:"password_hash"`       // single-user mode: {SCHEME}hash
	PasswordFile      string        `toml:"password_file"`       // single-user mode: file holding the hash
	Prefix            string        `toml:"prefix"`              // "" or "INBOX."
	UTF8FolderNames   bool          `toml:"utf8_folder_names"`   // new folder names in UTF-8 on disk
	AppendLimit       uint32        `toml:"append_limit"`        // bytes; 0: the backend's default (64 MiB)
	PollInterval      time.Duration `toml:"poll_interval"`       // watch fallback polling
	FullTextIndex     bool          `toml:"full_text_index"`     // maildir-imapd.fts per folder for SEARCH BODY/TEXT
	AllowInsecureAuth bool          `toml:"allow_insecure_auth"` // plaintext LOGIN on non-loopback listeners
	DebugWire         bool          `toml:"debug_wire"`          // IMAP wire trace to stderr (shows passwords)
	LogLevel          string        `toml:"log_level"`           // debug, info, warn, error
	LogFormat         string        `toml:"log_format"`          // text, json

	// MaxConnections caps all connections; 0 means 3/4 of the open-file
	// limit (RLIMIT_NOFILE), negative means no cap.
	MaxConnections       int           `toml:"max_connections"`
	MaxConnectionsPerIP  int           `toml:"max_connections_per_ip"` // per IPv4 address or IPv6 /64; 0: no cap
	MaxUserIPConnections int           `toml:"max_userip_connections"` // logged-in sessions per user and address; 0: no cap
	LoginTimeout         time.Duration `toml:"login_timeout"`          // time to log in before BYE
	TLSHandshakeTimeout  time.Duration `toml:"tls_handshake_timeout"`  // implicit TLS handshake
	AuthFailureDelay     time.Duration `toml:"auth_failure_delay"`     // a failed login is answered this long after it began; 0: at once

	// Running behind nginx's mail proxy (authhttp.go, contrib/nginx/).
	// AuthHTTPListen is the address of the auth_http service; "" (the
	// default) disables it.
	AuthHTTPListen string `toml:"auth_http_listen"`
	// Backends maps users to the backend that serves them, for auth_http:
	// "user@domain=host[:port]", "domain=host[:port]" or "*=host[:port]"
	// (port 143 when omitted). A user's own "host=" (and "port=") extra
	// fields in the users file come first, as in Dovecot's proxy set-ups.
	Backends []string `toml:"backends"`
	// ProxyTrusted lists the networks (CIDR, or single addresses) of the
	// proxies: connections from them must begin with a PROXY protocol
	// header (v1 or v2), which gives the client's address; connections
	// from elsewhere are served as they are but must not send one. It also
	// says who may ask auth_http (loopback only when empty).
	ProxyTrusted []string `toml:"proxy_trusted"`
	// MetricsListen is the address of the Prometheus /metrics and /healthz
	// endpoint; "" (the default) disables it.
	MetricsListen string `toml:"metrics_listen"`
	// LMTPListen is the LMTP address (lmtp.go): an absolute path for a unix
	// socket, or a loopback host:port. "" disables LMTP.
	LMTPListen         string `toml:"lmtp_listen"`
	LMTPDetailMailbox  bool   `toml:"lmtp_detail_mailbox"` // user+detail into mailbox "detail" (Dovecot's lmtp_save_to_detail_mailbox)
	RecipientDelimiter string `toml:"recipient_delimiter"` // separates user and detail in LMTP and deliver -a addresses
	// ServerMetadata holds the server's METADATA entries (RFC 5464), as
	// "/shared/name=value": /shared/admin (a URI such as
	// mailto:postmaster@example.org), /shared/comment, or a vendor entry
	// such as /shared/vendor/deltachat/irohrelay. Clients read them and
	// cannot change them.
	ServerMetadata []string `toml:"server_metadata"`

	// Maildir++ quota (quota.go), in the terms of Dovecot's quota plugin.
	// QuotaRule is every user's quota_rule, quota_rule2, ...; a user's
	// extra fields of those names in the users file override them one by
	// one. No rule at all (the default) means no quota.
	QuotaRule         []string `toml:"quota_rule"`
	QuotaGrace        string   `toml:"quota_grace"`         // deliveries may exceed the limit by this much; "" means 10%
	QuotaFullTempfail bool     `toml:"quota_full_tempfail"` // over quota: LMTP 452 4.2.2 and deliver exit 75 instead of 552 5.2.2 and 77

	// requireTLS refuses plaintext authentication even on loopback
	// listeners. Tests use it to exercise the policy of public listeners on
	// 127.0.0.1.
	requireTLS bool
}

// defaultConfig returns the configuration before the file and the flags.
func defaultConfig() Config {
	return Config{
		Listen:        defaultListen,
		ListenTLS:     defaultListenTLS,
		MailLocation:  defaultMailLocation,
		PollInterval:  defaultPollInterval,
		FullTextIndex: true,
		LogLevel:      defaultLogLevel,
		LogFormat:     defaultLogFormat,

		MaxConnectionsPerIP:  defaultMaxConnectionsPerIP,
		MaxUserIPConnections: defaultMaxUserIPConnections,
		LoginTimeout:         defaultLoginTimeout,
		TLSHandshakeTimeout:  defaultTLSHandshakeTimeout,
		AuthFailureDelay:     defaultAuthFailureDelay,
		RecipientDelimiter:   defaultRecipientDelimiter,
	}
}

// configFlags returns the flag set of serve and check, writing into cfg.
// configPath receives --config.
func configFlags(name string, cfg *Config, configPath *string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(configPath, "config", "", "TOML configuration `file`; flags override its keys")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "IMAP (STARTTLS) listen `address`; empty disables")
	fs.StringVar(&cfg.ListenTLS, "listen-tls", cfg.ListenTLS, "implicit-TLS IMAP listen `address`, used only with --tls-cert; empty disables")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "TLS certificate chain (PEM `file`)")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "TLS private key (PEM `file`)")
	fs.StringVar(&cfg.Users, "users", cfg.Users, "Dovecot passwd-file with the users (`file`)")
	fs.StringVar(&cfg.MailLocation, "mail-location", cfg.MailLocation, "Maildir of each user: Dovecot-style `template` (%u %n %d ~)")
	fs.StringVar(&cfg.Maildir, "maildir", cfg.Maildir, "single-user mode: the Maildir `directory`")
	fs.StringVar(&cfg.User, "user", cfg.User, "single-user mode: the user `name`")
	fs.StringVar(&cfg.PasswordHash, "password-hash", cfg.PasswordHash, "single-user mode: the password `hash`, e.g. {BLF-CRYPT}$2y$10$...")
	fs.StringVar(&cfg.PasswordFile, "password-file", cfg.PasswordFile, "single-user mode: `file` containing the password hash")
	fs.StringVar(&cfg.Prefix, "prefix", cfg.Prefix, `namespace prefix: "" (Dovecot) or "INBOX." (Courier)`)
	fs.BoolVar(&cfg.UTF8FolderNames, "utf8-folder-names", cfg.UTF8FolderNames, "create folders with UTF-8 names on disk instead of modified UTF-7")
	fs.Func("append-limit", "largest message APPEND accepts, in `bytes` (default 64 MiB)", func(s string) error {
		var n uint32
		if _, err := fmt.Sscan(s, &n); err != nil {
			return fmt.Errorf("not a number of bytes up to 4294967295: %q", s)
		}
		cfg.AppendLimit = n
		return nil
	})
	fs.DurationVar(&cfg.PollInterval, "poll-interval", cfg.PollInterval, "how often folders without inotify are polled")
	fs.BoolVar(&cfg.FullTextIndex, "full-text-index", cfg.FullTextIndex, "keep a full-text index per folder (maildir-imapd.fts: trigrams and words) for SEARCH BODY and TEXT; false: scan every message")
	fs.BoolVar(&cfg.AllowInsecureAuth, "allow-insecure-auth", cfg.AllowInsecureAuth, "allow LOGIN/AUTHENTICATE without TLS on non-loopback listeners")
	fs.BoolVar(&cfg.DebugWire, "debug-wire", cfg.DebugWire, "write the IMAP wire trace to stderr (it shows passwords)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log `level`: debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log `format`: text or json")
	fs.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "cap on all connections; 0: 3/4 of the open-file limit, negative: none")
	fs.IntVar(&cfg.MaxConnectionsPerIP, "max-connections-per-ip", cfg.MaxConnectionsPerIP, "cap on connections from one IPv4 address or IPv6 /64; 0: none")
	fs.IntVar(&cfg.MaxUserIPConnections, "max-userip-connections", cfg.MaxUserIPConnections, "cap on logged-in sessions of one user from one address (Dovecot's mail_max_userip_connections); 0: none")
	fs.DurationVar(&cfg.LoginTimeout, "login-timeout", cfg.LoginTimeout, "how long a connection may stay unauthenticated")
	fs.DurationVar(&cfg.TLSHandshakeTimeout, "tls-handshake-timeout", cfg.TLSHandshakeTimeout, "how long an implicit-TLS client may take to finish the handshake")
	fs.DurationVar(&cfg.AuthFailureDelay, "auth-failure-delay", cfg.AuthFailureDelay, "a failed login is answered this long after it began (Dovecot's auth_failure_delay); 0: at once")
	fs.StringVar(&cfg.AuthHTTPListen, "auth-http-listen", cfg.AuthHTTPListen, "`address` of the nginx mail proxy's auth_http service; empty disables")
	listFlag(fs, &cfg.Backends, "backends", "backends of auth_http: comma-separated `user@domain=host:port`, domain=host:port or *=host:port")
	listFlag(fs, &cfg.ProxyTrusted, "proxy-trusted", "comma-separated `networks` of the proxies, which must send a PROXY protocol header")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "`address` of the Prometheus /metrics and /healthz endpoint; empty disables")
	fs.StringVar(&cfg.LMTPListen, "lmtp-listen", cfg.LMTPListen, "LMTP `address`: a unix socket path, or a loopback host:port; empty disables")
	fs.BoolVar(&cfg.LMTPDetailMailbox, "lmtp-detail-mailbox", cfg.LMTPDetailMailbox, "deliver user+detail@domain into mailbox detail when it exists (Dovecot's lmtp_save_to_detail_mailbox)")
	fs.StringVar(&cfg.RecipientDelimiter, "recipient-delimiter", cfg.RecipientDelimiter, "separator of user and detail in recipient addresses")
	repeatedFlag(fs, &cfg.QuotaRule, "quota-rule", "a Dovecot quota `rule` for every user, such as *:storage=1G (repeat for quota_rule2, ...)")
	fs.StringVar(&cfg.QuotaGrace, "quota-grace", cfg.QuotaGrace, "how far a delivery may exceed the quota: `bytes` (with B, k, M, G) or a percentage (default 10%)")
	fs.BoolVar(&cfg.QuotaFullTempfail, "quota-full-tempfail", cfg.QuotaFullTempfail, "answer a delivery over quota with a temporary failure (452 4.2.2) instead of 552 5.2.2")
	listFlag(fs, &cfg.ServerMetadata, "server-metadata", "the server's METADATA entries: comma-separated `/shared/name=value` (/shared/admin, /shared/comment, /shared/vendor/...)")
	return fs
}

// listFlag defines a flag holding a comma-separated list. Given, it
// replaces the list of the configuration file rather than extending it; it
// may be repeated.
func listFlag(fs *flag.FlagSet, list *[]string, name, usage string) {
	given := false
	fs.Func(name, usage, func(s string) error {
		if !given {
			*list, given = nil, true
		}
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				*list = append(*list, v)
			}
		}
		return nil
	})
}

// repeatedFlag defines a flag that may be repeated, each value one item of
// list (no comma splitting: a quota rule may hold commas). Given, it
// replaces the configuration file's list.
func repeatedFlag(fs *flag.FlagSet, list *[]string, name, usage string) {
	given := false
	fs.Func(name, usage, func(s string) error {
		if !given {
			*list, given = nil, true
		}
		*list = append(*list, s)
		return nil
	})
}

// parseConfig parses the flags of serve or check: the defaults, then the
// TOML file of --config, then the flags given. A usage error (bad flag) is
// a *usageError.
func parseConfig(name string, args []string) (*Config, error) {
	return parseConfigWith(name, args, nil)
}

// parseConfigWith is parseConfig with more flags: extra adds them to each
// flag set it builds (the flags are parsed twice, before and after the
// file).
func parseConfigWith(name string, args []string, extra func(*flag.FlagSet)) (*Config, error) {
	var path string
	probe := defaultConfig()
	fs := configFlags(name, &probe, &path)
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fs: fs, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if path == "" {
		return &probe, nil
	}
	cfg := defaultConfig()
	if err := loadConfigFile(path, &cfg); err != nil {
		return nil, err
	}
	// The flags override the file: parse them again over its values.
	fs = configFlags(name, &cfg, &path)
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// loadConfigFile decodes the TOML file at path into cfg. Unknown keys are
// errors naming their line.
func loadConfigFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		if len(k) > 1 && md.Type(k[:len(k)-1]...) != "" && isUndecodedParent(md.Undecoded(), k[:len(k)-1]) {
			continue // reported with its table
		}
		errs = append(errs, fmt.Errorf("config %s: line %d: unknown key %q", path, keyLine(data, k), k.String()))
	}
	return errors.Join(errs...)
}

// isUndecodedParent reports whether parent is itself among the undecoded keys.
func isUndecodedParent(undecoded []toml.Key, parent toml.Key) bool {
	for _, k := range undecoded {
		if k.String() == parent.String() {
			return true
		}
	}
	return false
}

// keyLine returns the 1-based line where the top-level part of key k is
// defined: `name = ...` or a `[name]` table header. BurntSushi/toml keeps key
// positions private, and our configuration is flat, so a scan suffices. It
// returns 0 when the key is not found.
func keyLine(data []byte, k toml.Key) int {
	name := regexp.QuoteMeta(k[0])
	re := regexp.MustCompile(`^\s*(\[\[?\s*)?("` + name + `"|'` + name + `'|` + name + `)\s*(=|\.|\])`)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if re.MatchString(sc.Text()) {
			return n
		}
	}
	return 0
}

// validate checks the values and the combination of settings, without
// touching the network. It reads --password-file.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format %q: want text or json", c.LogFormat)
	}
	if c.Prefix != "" && c.Prefix != "INBOX." {
		bad(`prefix %q: want "" or "INBOX."`, c.Prefix)
	}
	if c.PollInterval <= 0 {
		bad("poll-interval %v: must be positive", c.PollInterval)
	}
	if c.MaxConnectionsPerIP < 0 || c.MaxUserIPConnections < 0 {
		bad("max-connections-per-ip and max-userip-connections must not be negative (0: no cap)")
	}
	if c.LoginTimeout <= 0 || c.TLSHandshakeTimeout <= 0 {
		bad("login-timeout and tls-handshake-timeout must be positive")
	}
	if c.AuthFailureDelay < 0 {
		bad("auth-failure-delay %v: must not be negative", c.AuthFailureDelay)
	}
	if _, err := quota.FromFields(c.QuotaRule, c.QuotaGrace, nil); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert and tls-key must be given together")
	}
	hasTLS := c.TLSCert != ""
	if !hasTLS && c.ListenTLS != "" && c.ListenTLS != defaultListenTLS {
		bad("listen-tls %q needs tls-cert and tls-key", c.ListenTLS)
	}
	for _, a := range []struct{ name, addr string }{{"listen", c.Listen}, {"listen-tls", c.ListenTLS}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			bad("%s %q: %v", a.name, a.addr, err)
		}
	}
	errs = append(errs, c.validateProxy()...)
	if c.Listen == "" && (!hasTLS || c.ListenTLS == "") {
		bad("nothing to listen on: set listen, or listen-tls with tls-cert and tls-key")
	}
	if c.Listen != "" && !hasTLS && !c.AllowInsecureAuth && !isLoopbackAddr(c.Listen) {
		bad("listen %q is not a loopback address and there is no TLS certificate: nobody could log in "+
			"(set tls-cert and tls-key, listen on 127.0.0.1, or set allow-insecure-auth)", c.Listen)
	}

	if c.LMTPListen != "" && !filepath.IsAbs(c.LMTPListen) && !isLoopbackAddr(c.LMTPListen) {
		bad("lmtp-listen %q: want an absolute unix socket path or a loopback host:port (LMTP has no authentication)", c.LMTPListen)
	}
	if _, err := c.serverMetadata(); err != nil {
		bad("server-metadata: %v", err)
	}
	if c.RecipientDelimiter == "" || strings.ContainsAny(c.RecipientDelimiter, "@ \t\r\n") {
		bad("recipient-delimiter %q: want a character such as + or -", c.RecipientDelimiter)
	}

	if loc, err := c.templateLocation(); err != nil {
		bad("mail-location: %v", err)
	} else if err := checkLocation(loc); err != nil {
		bad("mail-location %q: %v", c.MailLocation, err)
	}

	single := c.Maildir != "" || c.User != "" || c.PasswordHash != "" || c.PasswordFile != ""
	switch {
	case c.Users != "" && single:
		bad("users conflicts with maildir/user/password-hash/password-file (single-user mode): choose one")
	case c.Users == "" && !single:
		bad("no users: set users (a passwd-file), or maildir, user and password-hash for a single user")
	case single:
		if c.Maildir == "" || c.User == "" {
			bad("single-user mode needs both maildir and user")
		}
		if strings.ContainsAny(c.User, ":\n\r") {
			bad("user %q: must not contain ':' or line breaks", c.User)
		}
		if (c.PasswordHash == "") == (c.PasswordFile == "") {
			bad("single-user mode needs exactly one of password-hash and password-file")
		}
		if c.PasswordFile != "" {
			if _, err := c.passwordHash(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// passwordHash returns the single user's password hash, from PasswordHash or
// the first line of PasswordFile.
func (c *Config) passwordHash() (string, error) {
	if c.PasswordFile == "" {
		return c.PasswordHash, nil
	}
	data, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	h := strings.TrimSpace(line)
	if h == "" {
		return "", fmt.Errorf("password-file %s: empty", c.PasswordFile)
	}
	return h, nil
}

// maildirPath returns the absolute single-user Maildir path.
func (c *Config) maildirPath() (string, error) {
	p, err := filepath.Abs(c.Maildir)
	if err != nil {
		return "", fmt.Errorf("maildir: %w", err)
	}
	return p, nil
}

// isLoopbackAddr reports whether a listen address binds to loopback only:
// "localhost", 127.0.0.0/8 or ::1. An empty host (all interfaces) is not.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverMetadata returns the entries of ServerMetadata by name.
func (c *Config) serverMetadata() (map[string]string, error) {
	m := make(map[string]string, len(c.ServerMetadata))
	for _, kv := range c.ServerMetadata {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want /shared/name=value", kv)
		}
		if err := imapd.CheckMetadataEntryName(name); err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		if !strings.HasPrefix(strings.ToLower(name), "/shared/") {
			return nil, fmt.Errorf("%q: the server's entries are /shared (each user has its own /private ones)", name)
		}
		m[strings.ToLower(name)] = value
	}
	return m, nil
}
