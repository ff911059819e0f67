package e2e

import (
	"testing"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/testenv"
)

// requireTool returns the path of an installed third-party program, or
// skips the test (fails it under MAILDIR_IMAPD_E2E_REQUIRE=1): see testenv.
func requireTool(t *testing.T, name, pkg string) string { return testenv.Tool(t, name, pkg) }
