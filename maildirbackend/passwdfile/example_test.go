package passwdfile_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

func Example() {
	// What `maildir-imapd passwd` does: hash a password for a new line.
	field, err := passwdfile.Hash("BLF-CRYPT", "correct horse battery staple")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(field, "{BLF-CRYPT}$2y$10$"))

	file := "# user:password:uid:gid:gecos:home:shell:extra\n" +
		"alice@example.org:" + field + ":5000:5000::/srv/vmail/example.org/alice\n"
	f, err := passwdfile.Parse(strings.NewReader(file))
	if err != nil {
		fmt.Println(err)
		return
	}

	u, err := f.Verify("alice@example.org", "correct horse battery staple")
	fmt.Println(u.Name, err)
	_, err = f.Verify("alice@example.org", "Tr0ub4dor&3")
	fmt.Println(errors.Is(err, passwdfile.ErrAuthFailed))

	maildir, err := passwdfile.ExpandLocation("maildir:~/Maildir", u)
	fmt.Println(maildir, err)
	// Output:
	// true
	// alice@example.org <nil>
	// true
	// /srv/vmail/example.org/alice/Maildir <nil>
}

func ExampleExpandLocation() {
	u := &passwdfile.User{Name: "Bob@Example.org"}
	for _, tmpl := range []string{"maildir:/srv/vmail/%Ld/%Ln:INDEX=/var/idx/%u", "/srv/vmail/%u", "~/Maildir"} {
		fmt.Println(passwdfile.ExpandLocation(tmpl, u))
	}
	// Output:
	// /srv/vmail/example.org/bob <nil>
	// /srv/vmail/Bob@Example.org <nil>
	//  passwdfile: mail location "~/Maildir": user "Bob@Example.org" has no home directory
}
