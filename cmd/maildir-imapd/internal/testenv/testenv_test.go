package testenv_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/testenv"
)

// childEnv marks the child process of TestTool_optIn.
const childEnv = "MAILDIR_IMAPD_REQUIRE_CHILD"

// TestTool_optIn runs this test binary again with a missing tool, once
// without MAILDIR_IMAPD_E2E_REQUIRE (the test must be skipped, naming the
// variable and the package) and once with it set to 1 (it must fail).
func TestTool_optIn(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		testenv.Tool(t, "maildir-imapd-no-such-tool", "no-such-package")
		t.Error("Tool returned for a missing tool")
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
			cmd := exec.Command(os.Args[0], "-test.run=^TestTool_optIn$", "-test.v")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, testenv.Env+"=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, childEnv+"=1", testenv.Env+"="+tc.value)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Fatalf("child failed = %v (%v), want %v\n%s", failed, err, tc.wantFail, out)
			}
			for _, want := range []string{tc.want, testenv.Env, "apt-get install no-such-package"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("child output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
