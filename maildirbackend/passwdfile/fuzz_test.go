package passwdfile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// FuzzParseInvariants feeds arbitrary files to Parse. It must never panic; every user
// it keeps must be found by Lookup, have a non-empty name, a home that is
// empty or absolute, and no empty plaintext password. (Verify is left to
// FuzzParse: every failed Verify costs a bcrypt comparison.)
func FuzzParseInvariants(f *testing.F) {
	for _, seed := range []string{
		goodFile,
		"",
		"\n\n# only a comment\n",
		"alice:{PLAIN}pw:1000:1000::/home/alice::userdb_mail=maildir:~/Maildir quota_rule=*:storage=1G\n",
		"eve:{PLAIN}:::::\n",
		"bob:{BLF-CRYPT}$2y$05$DBZ4.X.GTRZXTO6H2sNWL..vsv0FdNnRu3N97/gaLdo1jHEJhU4sS:::::\n",
		"carol:{SHA512-CRYPT}$6$saltsalt$short:::::\n",
		"dave:{SSHA256}AAAA:x:y::relative::\n",
		"a:b:c:d:e:f:g:h:i:j\r\n",
		"dup:{PLAIN}a\nDUP:{PLAIN}b\n",
		"{:}:::::\n",
		"x:{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA:::::\n",
		"bad name:{PLAIN}x\n",
		"z:{SHA256.HEX}e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
		"\x00:\x00\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		file, err := passwdfile.Parse(strings.NewReader(data))
		if file == nil {
			var le *passwdfile.LineError
			if !errors.As(err, &le) {
				t.Fatalf("Parse returned no File and %v", err)
			}
			return
		}
		if (err == nil) != (len(file.Problems()) == 0) {
			t.Fatalf("err = %v but %d problems", err, len(file.Problems()))
		}
		for _, u := range file.Users() {
			if u.Name == "" {
				t.Fatal("a user with an empty name was kept")
			}
			if got, ok := file.Lookup(u.Name); !ok || got != u {
				t.Fatalf("Lookup(%q) does not find the user of line %d", u.Name, u.Line)
			}
			if u.Home != "" && !strings.HasPrefix(u.Home, "/") {
				t.Fatalf("user %q: relative home %q kept", u.Name, u.Home)
			}
			if strings.EqualFold(u.Password, "{PLAIN}") || strings.EqualFold(u.Password, "{CLEAR}") {
				t.Fatalf("user %q with an empty plaintext password was kept", u.Name)
			}
		}
	})
}
