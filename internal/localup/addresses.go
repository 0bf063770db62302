package localup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/kelp-dev/kelp/internal/localcloud"
)

// DefaultAddressLockDir is where local clusters on one machine claim their
// instance addresses (Config.AddressLockDir).
var DefaultAddressLockDir = filepath.Join(os.TempDir(), "kelp-address-blocks")

// addressLease is a local cluster's claim on an address block
// (localcloud.Options.AddressBlock), so that two clusters on one machine
// never give their instances the same addresses (their node agents listen
// on them). The claim is a flock on <lock dir>/<block>.lock, held while the
// cluster runs and dropped by the kernel when its process ends, so a
// crashed cluster never keeps its block. The lock file names the cloud
// directory that took the block, and the cloud directory saves its block
// (addresses.json): instances keep their addresses across restarts, so a
// new cluster skips a block that a stopped cluster's directory still holds.
type addressLease struct {
	Block int
	file  *os.File
}

type savedAddressBlock struct {
	AddressBlock int `json:"addressBlock"`
}

// claimAddressBlock claims the block cloudDir saved, or on its first start
// the lowest block that no running cluster holds and no existing cluster
// directory saved.
func claimAddressBlock(cloudDir, lockDir string) (*addressLease, error) {
	path := filepath.Join(cloudDir, "addresses.json")
	saved, ok, err := loadAddressBlock(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(lockDir, 0o1777); err != nil {
		return nil, fmt.Errorf("address lock directory: %w", err)
	}
	_ = os.Chmod(lockDir, 0o1777) // every user's clusters share it; MkdirAll obeys the umask
	if ok {
		lease, holder, err := lockAddressBlock(lockDir, saved, cloudDir)
		if err != nil {
			return nil, err
		}
		if lease == nil {
			return nil, fmt.Errorf("instance addresses %s (block %d, saved in %s) are in use by the local cluster in %s: stop it first",
				blockRange(saved), saved, path, holder)
		}
		return lease, nil
	}
	for b := range localcloud.AddressBlocks {
		lease, _, err := lockAddressBlock(lockDir, b, cloudDir)
		if err != nil {
			return nil, err
		}
		if lease == nil {
			continue
		}
		if err := saveAddressBlock(path, b); err != nil {
			lease.release()
			return nil, err
		}
		return lease, nil
	}
	return nil, fmt.Errorf("all %d address blocks are taken by other local clusters (lock files in %s)", localcloud.AddressBlocks, lockDir)
}

// lockAddressBlock takes block b for cloudDir, or returns a nil lease and
// the directory that holds it: a running cluster (the flock), or a stopped
// one whose directory still saves b.
func lockAddressBlock(lockDir string, b int, cloudDir string) (*addressLease, string, error) {
	path := filepath.Join(lockDir, fmt.Sprintf("%d.lock", b))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if errors.Is(err, fs.ErrPermission) {
		return nil, "another user's cluster (" + path + ")", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("open address lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, strings.TrimSpace(string(holder)), nil
		}
		return nil, "", fmt.Errorf("lock %s: %w", path, err)
	}
	if prev, _ := os.ReadFile(path); len(prev) > 0 {
		owner := strings.TrimSpace(string(prev))
		if owner != cloudDir {
			if other, ok, _ := loadAddressBlock(filepath.Join(owner, "addresses.json")); ok && other == b {
				f.Close()
				return nil, owner, nil
			}
		}
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(cloudDir+"\n"), 0)
		if err != nil {
			f.Close()
			return nil, "", fmt.Errorf("write address lock %s: %w", path, err)
		}
	}
	return &addressLease{Block: b, file: f}, "", nil
}

// release drops the claim (the block stays saved in the cloud directory).
func (l *addressLease) release() {
	if l != nil && l.file != nil {
		l.file.Close()
		l.file = nil
	}
}

// blockRange is the addresses of block b, for messages.
func blockRange(b int) string {
	return fmt.Sprintf("127.%d.0.0-127.%d.255.255", 3*b+1, 3*b+3)
}

func loadAddressBlock(path string) (int, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the saved address block: %w", err)
	}
	var s savedAddressBlock
	if err := json.Unmarshal(data, &s); err != nil || s.AddressBlock < 0 || s.AddressBlock >= localcloud.AddressBlocks {
		return 0, false, fmt.Errorf("saved address block %s is corrupt: %q", path, strings.TrimSpace(string(data)))
	}
	return s.AddressBlock, true, nil
}

func saveAddressBlock(path string, b int) error {
	data, _ := json.Marshal(savedAddressBlock{AddressBlock: b})
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("save the address block: %w", err)
	}
	return nil
}
