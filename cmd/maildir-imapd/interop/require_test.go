package interop

import (
	"testing"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/testenv"
)

// The helpers below skip a test that cannot run on this machine, or fail
// it under MAILDIR_IMAPD_E2E_REQUIRE=1: see testenv.

func requireTool(t testing.TB, name, pkg string) string { return testenv.Tool(t, name, pkg) }

func requireFile(t testing.TB, path, pkg string) { testenv.File(t, path, pkg) }

func requireRoot(t testing.TB) { testenv.Root(t) }
