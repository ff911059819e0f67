package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireEnv names the variable that turns a missing external program (or
// missing root) from a skip into a failure. .ci/run sets it to 1.
const requireEnv = "MAILDIR_IMAPD_E2E_REQUIRE"

// required reports whether requireEnv is set (to anything but "" or "0").
func required() bool {
	v := os.Getenv(requireEnv)
	return v != "" && v != "0"
}

// unavailable ends a test that cannot run on this machine: t.Fatal when
// requireEnv is set, else t.Skip, both with why and what to install.
func unavailable(t *testing.T, why, install string) {
	t.Helper()
	if required() {
		t.Fatalf("%s: %s (%s=%s makes this a failure)", why, install, requireEnv, os.Getenv(requireEnv))
	}
	t.Skipf("%s: %s; skipped, set %s=1 to make this a failure (.ci/run does)", why, install, requireEnv)
}

// requireTool returns the path of the installed program name from the
// Debian package pkg. When it is missing the test is skipped, or fails
// under MAILDIR_IMAPD_E2E_REQUIRE=1. Daemons live in /usr/sbin, which is not
// always in a test's PATH, so it is searched too.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	unavailable(t, name+" is not installed", "apt-get install "+pkg)
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// requireChildEnv marks the child process of TestRequire_optIn.
const requireChildEnv = "MAILDIR_IMAPD_REQUIRE_CHILD"

// TestRequire_optIn runs this test binary again with a missing tool, once
// without MAILDIR_IMAPD_E2E_REQUIRE (the test must be skipped, naming the
// variable and the package) and once with it set to 1 (it must fail).
func TestRequire_optIn(t *testing.T) {
	if os.Getenv(requireChildEnv) == "1" {
		requireTool(t, "maildir-imapd-no-such-tool", "no-such-package")
		t.Error("requireTool returned for a missing tool")
		return
	}
	tests := []struct {
		name, value string
		wantFail    bool
		want        string
	}{
		{"unset", "", false, "--- SKIP"},
		{"zero", "0", false, "--- SKIP"},
		{"set", "1", true, "--- FAIL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRequire_optIn$", "-test.v")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, requireEnv+"=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, requireChildEnv+"=1", requireEnv+"="+tc.value)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Fatalf("child failed = %v (%v), want %v\n%s", failed, err, tc.wantFail, out)
			}
			for _, want := range []string{tc.want, requireEnv, "apt-get install no-such-package"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("child output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
