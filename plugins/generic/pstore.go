package generic

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// stepErasePstore is IPA's erase_pstore.
const stepErasePstore = "erase_pstore"

// erasePstore is IPA's erase_pstore: it removes every file of the
// kernel's persistent store (crash logs the firmware keeps across boots,
// which may hold a previous tenant's data), logging each. The store is the
// file system mounted at <sys>/fs/pstore, whatever its type. When nothing
// is mounted there the manager mounts pstore itself, removes the records
// and unmounts it again; when that mount fails (a kernel without pstore,
// no such directory) there is no pstore, and the step does nothing, as
// IPA does when it finds no pstore mount. What someone else mounted is
// never unmounted.
func (m *Manager) erasePstore(ctx context.Context, _ node) (json.RawMessage, error) {
	log := sdk.ContextLogger(ctx, m.log).With("step", stepErasePstore)
	dir := filepath.Join(m.sys.sysRoot, "fs", "pstore")
	fstype, mounted, err := mountedAt(m.sys.procRoot, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No procfs (a test fixture): nothing is known to be mounted.
		log.Warn("no mount table; taking the pstore directory as not mounted", "error", err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", stepErasePstore, err)
	}
	if !mounted {
		if m.sys.mountPstore == nil {
			log.Info("no pstore found: nothing is mounted on the pstore directory", "path", dir)
			return json.RawMessage("null"), nil
		}
		if err := m.sys.mountPstore(dir); err != nil {
			log.Info("no pstore found: nothing is mounted on the pstore directory and pstore cannot be mounted", "path", dir, "reason", err)
			return json.RawMessage("null"), nil
		}
		log.Info("mounted pstore", "path", dir)
		defer func() {
			if err := m.sys.unmountPstore(dir); err != nil {
				log.Warn("unmounting pstore failed", "path", dir, "error", err)
				return
			}
			log.Info("unmounted pstore", "path", dir)
		}()
		fstype = "pstore"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: list %s: %w", stepErasePstore, dir, err)
	}
	log.Info("cleaning up pstore", "path", dir, "fstype", fstype, "entries", len(entries))
	var failed []string
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", stepErasePstore, err)
		}
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			log.Error("removing a pstore record failed", "file", e.Name(), "error", err)
			failed = append(failed, err.Error())
			continue
		}
		log.Info("removed pstore record", "file", e.Name())
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%s: %d of %d pstore records could not be removed: %s",
			stepErasePstore, len(failed), len(entries), strings.Join(failed, "; "))
	}
	return json.RawMessage("null"), nil
}

// mountedAt reports whether something is mounted at dir according to
// <procRoot>/self/mountinfo, and the type of the file system on top.
func mountedAt(procRoot, dir string) (fstype string, mounted bool, err error) {
	want := filepath.Clean(dir)
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		want = r
	}
	f, err := os.Open(filepath.Join(procRoot, "self", "mountinfo"))
	if err != nil {
		return "", false, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 1 {
			continue
		}
		// Later lines are mounted over earlier ones: the last match is
		// the file system seen at dir.
		if unescapeMountinfo(pf[4]) == want {
			fstype, mounted = qf[0], true
		}
	}
	if err := sc.Err(); err != nil {
		return "", false, fmt.Errorf("read mount table: %w", err)
	}
	return fstype, mounted, nil
}

// unescapeMountinfo undoes the kernel's octal escapes of mountinfo
// paths (\040 for a space, \011, \012, \134).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountPstore mounts the kernel's pstore file system on dir.
func mountPstore(dir string) error {
	if err := unix.Mount("pstore", dir, "pstore", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount pstore on %s: %w", dir, err)
	}
	return nil
}

// unmountPstore unmounts what mountPstore mounted on dir.
func unmountPstore(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}
