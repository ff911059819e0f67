package maildirsize

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// dovecotFile is what Dovecot 2.3.19 wrote for quota_rule=*:storage=1k
// and quota_rule2=*:messages=3 after two APPENDs (300 and 600 bytes on the
// wire, stored with LF line endings).
const dovecotFile = "1024S,3C\n0 0\n298 1\n598 1\n"

func TestLimits_string(t *testing.T) {
	tests := []struct {
		name string
		l    Limits
		want string
	}{
		{name: "both", l: Limits{Bytes: 1024, Count: 3}, want: "1024S,3C"},
		{name: "bytes", l: Limits{Bytes: 1 << 30}, want: "1073741824S"},
		{name: "count", l: Limits{Count: 1000}, want: "1000C"},
		{name: "none", want: "0S"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			back, ok := ParseLimits(tc.want)
			if !ok || back != tc.l {
				t.Errorf("ParseLimits(%q) = %+v, %v", tc.want, back, ok)
			}
		})
	}
}

func TestParseLimits_courier(t *testing.T) {
	// Courier's maildirmake -q writes "S" and "C" in either order;
	// unknown items are skipped.
	l, ok := ParseLimits("10C,5000000S")
	if !ok || l != (Limits{Bytes: 5000000, Count: 10}) {
		t.Errorf("got %+v %v", l, ok)
	}
	if l, ok := ParseLimits("5000000S,7X"); ok || l.Bytes != 5000000 {
		t.Errorf("unknown item: got %+v %v, want the bytes and false", l, ok)
	}
}

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), Name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRead_dovecot(t *testing.T) {
	f, err := Read(write(t, dovecotFile))
	if err != nil {
		t.Fatal(err)
	}
	if f.Limits != (Limits{Bytes: 1024, Count: 3}) || f.Usage != (Usage{Bytes: 896, Count: 2}) || f.Lines != 3 {
		t.Errorf("got %+v", f)
	}
}

func TestRead_cases(t *testing.T) {
	tests := []struct {
		name    string
		content string
		usage   Usage
		stale   bool
	}{
		{name: "courier padding", content: "1000S\n   100      1\n    50      1\n", usage: Usage{150, 2}},
		{name: "half-written last line", content: "1000S\n100 1\n50", usage: Usage{100, 1}},
		{name: "negative deltas", content: "1000S\n100 2\n-40 -1\n", usage: Usage{60, 1}},
		{name: "no header line end", content: "1000S", stale: true},
		{name: "garbage line", content: "1000S\n100 1\nhello\n", stale: true},
		{name: "negative sum", content: "1000S\n-100 -1\n", stale: true},
		{name: "NUL", content: "1000S\n100\x001\n", stale: true},
		{name: "too large", content: "0S\n" + strings.Repeat("1 1\n", MaxSize/4), stale: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Read(write(t, tc.content))
			if tc.stale {
				if !errors.Is(err, ErrStale) {
					t.Fatalf("Read = %+v, %v; want ErrStale", f, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Usage != tc.usage {
				t.Errorf("usage %+v, want %+v", f.Usage, tc.usage)
			}
		})
	}
	if _, err := Read(filepath.Join(t.TempDir(), Name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestFile_trusted(t *testing.T) {
	now := time.Now()
	want := Limits{Bytes: 1000}
	tests := []struct {
		name  string
		f     File
		force bool
		ok    bool
	}{
		{name: "under", f: File{Limits: want, Usage: Usage{500, 1}, Lines: 5, ModTime: now.Add(-time.Hour)}, force: true, ok: true},
		{name: "over one line fresh", f: File{Limits: want, Usage: Usage{1500, 1}, Lines: 1, ModTime: now}, force: true, ok: true},
		{name: "over many lines", f: File{Limits: want, Usage: Usage{1500, 1}, Lines: 2, ModTime: now}, force: true},
		{name: "over stale", f: File{Limits: want, Usage: Usage{1500, 1}, Lines: 1, ModTime: now.Add(-16 * time.Minute)}, force: true},
		{name: "other limits forced", f: File{Limits: Limits{Bytes: 2000}, Usage: Usage{10, 1}, Lines: 1, ModTime: now}, force: true},
		{name: "other limits taken", f: File{Limits: Limits{Bytes: 2000}, Usage: Usage{1500, 1}, Lines: 3, ModTime: now}, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Trusted(want, tc.force, now); got != tc.ok {
				t.Errorf("Trusted = %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestAppend_concurrent appends from many goroutines at once: every line
// arrives whole, and the sum is exact.
func TestAppend_concurrent(t *testing.T) {
	path := write(t, "0S\n0 0\n")
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := Append(path, Usage{Bytes: int64(w*1000 + i), Count: 1}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= MaxSize {
		t.Fatalf("file is %d bytes; the test wants it under MaxSize", len(b))
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for w := range writers {
		for i := range each {
			want += int64(w*1000 + i)
		}
	}
	if f.Usage != (Usage{Bytes: want, Count: writers * each}) || f.Lines != writers*each+1 {
		t.Errorf("got %+v, want %d bytes in %d messages", f, want, writers*each)
	}
	if err := Append(filepath.Join(t.TempDir(), Name), Usage{1, 1}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("append to a missing file: %v", err)
	}
}

func TestNameSize(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		ok   bool
	}{
		{"1700000000.M1P2.host,S=298,W=300:2,S", 298, true},
		{"1700000000.M1P2.host,S=298", 298, true},
		{"1700000000.M1P2.host,S=298:2,", 298, true},
		{"1700000000.M1P2.host,S=29x", 0, false},
		{"1700000000.M1P2.host", 0, false},
	}
	for _, tc := range tests {
		if n, ok := NameSize(tc.name); n != tc.n || ok != tc.ok {
			t.Errorf("NameSize(%q) = %d, %v", tc.name, n, ok)
		}
	}
}

// TestRecalculate counts new/ and cur/ of each folder (sizes from names,
// else from stat), and writes the file as Dovecot does.
func TestRecalculate(t *testing.T) {
	root := t.TempDir()
	trash := filepath.Join(root, ".Trash")
	for _, d := range []string{root, trash} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(d, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	files := map[string]string{
		"new/1.M1P1.h,S=100,W=102":         "x",              // 100 from the name
		"cur/2.M2P1.h,S=50:2,S":            "y",              // 50
		"cur/3.M3P1.h:2,":                  "twelve bytes",   // 12 from stat
		".Trash/cur/4.M4P1.h,S=7:2,ST":     "z",              // 7: Trash counts
		"tmp/5.M5P1.h,S=1000":              "not yet placed", // tmp/ does not count
		".Trash/tmp/6.M6P1.h,S=1000,W=1":   "",
		"new/7.M7P1.h,S=1x":                "abc", // a broken S=: stat, 3
		".Trash/new/8.M8P1.h,S=0,W=0:2,":   "",    // 0 bytes, 1 message
		".Trash/maildirfolder":             "",    // not in new/ or cur/
		"dovecot-uidlist":                  "3 V1 N1\n",
		".Trash/cur/9.M9P1.h,S=1,W=1:2,ST": "q",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The directories must look older than the count, or it is retried.
	old := time.Now().Add(-time.Minute)
	for _, d := range []string{"new", "cur", ".Trash/new", ".Trash/cur"} {
		os.Chtimes(filepath.Join(root, d), old, old)
	}
	path := filepath.Join(root, Name)
	u, written, err := Recalculate(path, Limits{Bytes: 1 << 20, Count: 100}, []string{root, trash})
	if err != nil || !written {
		t.Fatalf("Recalculate: %v, written %v", err, written)
	}
	want := Usage{Bytes: 100 + 50 + 12 + 7 + 3 + 0 + 1, Count: 7}
	if u != want {
		t.Errorf("usage %+v, want %+v", u, want)
	}
	b, _ := os.ReadFile(path)
	if got := string(b); got != fmt.Sprintf("1048576S,100C\n%d %d\n", want.Bytes, want.Count) {
		t.Errorf("file %q", got)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, Name+".tmp.*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
