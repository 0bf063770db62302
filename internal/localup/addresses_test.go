package localup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestAddressBlocks: clusters on one machine get different address
// blocks, keep theirs across restarts, and a new cluster skips the block
// of a stopped one whose directory still exists.
func TestAddressBlocks(t *testing.T) {
	root, locks := t.TempDir(), t.TempDir()
	dir := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	claim := func(d string, want int) *addressLease {
		t.Helper()
		l, err := claimAddressBlock(d, locks)
		if err != nil {
			t.Fatalf("claim for %s: %v", d, err)
		}
		if l.Block != want {
			t.Fatalf("%s got block %d, want %d", d, l.Block, want)
		}
		return l
	}
	a, b, c := dir("a"), dir("b"), dir("c")
	la := claim(a, 0)
	lb := claim(b, 1)
	la.release()
	claim(c, 2).release() // 0 is still a's: its directory saves it
	la = claim(a, 0)      // a restarts with its own block

	// b's block taken by someone else while b is stopped: b must not start
	// on the same addresses.
	lb.release()
	if err := os.WriteFile(filepath.Join(b, "addresses.json"), []byte(`{"addressBlock":0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := claimAddressBlock(b, locks)
	testenv.ErrorContains(t, err, "127.1.0.0-127.3.255.255", "in use by the local cluster in "+a)
	la.release()

	// A cluster directory that was removed frees its block.
	if err := os.RemoveAll(a); err != nil {
		t.Fatal(err)
	}
	claim(dir("d"), 0).release()

	if err := os.WriteFile(filepath.Join(c, "addresses.json"), []byte(`{"addressBlock":99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = claimAddressBlock(c, locks)
	testenv.ErrorContains(t, err, "saved address block", "is corrupt")
}
