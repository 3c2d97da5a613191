// Package repotest finds what the repository's tests are called, for the
// tests that keep documentation tables citing real tests.
package repotest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	testFunc = regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	phase    = regexp.MustCompile(`pr\.run\("([a-z0-9-]+)"`)
)

// Names walks the repository at root (skipping .git and bin) and returns
// the names of every test function in its _test.go files, and the
// phases the end-to-end rig (test/e2e) runs. A walk error fails t.
func Names(t *testing.T, root string) (tests, phases map[string]bool) {
	t.Helper()
	tests, phases = map[string]bool{}, map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllStringSubmatch(string(b), -1) {
			tests[m[1]] = true
		}
		if strings.Contains(filepath.ToSlash(p), "test/e2e/") {
			for _, m := range phase.FindAllStringSubmatch(string(b), -1) {
				phases[m[1]] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tests, phases
}
