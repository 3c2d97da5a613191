package generic

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jaypipes/pcidb"
)

// systemPCIIDs is the running machine's PCI ID database: Debian's pci.ids
// (package pci.ids), else the copy hwdata ships. It is loaded on first use
// only, once per process: a load takes about 200 ms and keeps about 6 MiB.
var systemPCIIDs = &pciIDs{paths: []string{"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"}}

// pciIDs loads a PCI ID database from the first of paths that exists,
// once.
type pciIDs struct {
	paths []string

	once sync.Once
	db   *pcidb.DB
	err  error
}

// load returns the database, loading it on the first call; the error
// says why there are no names. log receives one line about the load.
func (p *pciIDs) load(log hclog.Logger) (*pcidb.DB, error) {
	if p == nil {
		return nil, errors.New("no pci.ids configured")
	}
	p.once.Do(func() {
		start := time.Now()
		var path string
		path, p.db, p.err = loadPCIIDs(p.paths)
		if p.err != nil {
			log.Warn("PCI names unavailable", "error", p.err)
			return
		}
		log.Debug("PCI ID database loaded", "path", path, "vendors", len(p.db.Vendors), "duration", time.Since(start).String())
	})
	return p.db, p.err
}

// loadPCIIDs loads the first of paths that exists and parses, and returns
// its path. Nothing is ever fetched from the network.
func loadPCIIDs(paths []string) (string, *pcidb.DB, error) {
	var problems []string
	for _, path := range paths {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, path+": not found")
			continue
		} else if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		db, err := openPCIDB(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
			continue
		}
		return path, db, nil
	}
	if len(problems) == 0 {
		return "", nil, errors.New("no pci.ids paths")
	}
	return "", nil, errors.New(strings.Join(problems, "; "))
}

// openPCIDB parses the pci.ids (or pci.ids.gz) at path with pcidb.
//
// Network fetching is disabled explicitly: pcidb has no option to turn it
// off (WithEnableNetworkFetch can only turn it on), and without one it
// follows the environment variable PCIDB_ENABLE_NETWORK_FETCH, so the
// option is set to false in the struct itself. With a Path, pcidb looks
// nowhere else (not in its cache, not under its chroot); a missing file is
// pcidb's ErrNoDB. pcidb's parser indexes lines without checking their
// length, so a malformed file could panic: that is turned into an error.
func openPCIDB(path string) (db *pcidb.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("malformed pci.ids: %v", r)
		}
	}()
	noFetch := false
	db, err = pcidb.New(&pcidb.WithOption{Path: &path, EnableNetworkFetch: &noFetch})
	if err != nil {
		return nil, err
	}
	if len(db.Vendors) == 0 {
		return nil, errors.New("no vendors in file")
	}
	return db, nil
}
