package guide

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPluginGuide follows docs/plugin-guide.md from an empty directory: a
// module pointed at this checkout, the guide's main.go and main_test.go,
// go mod tidy, go test (which runs the vendors' test kit on the plugin in
// process and as a binary).
func TestPluginGuide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module: skipped with -short")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs", "plugin-guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(guide, -1)
	if len(blocks) < 2 {
		t.Fatalf("the guide has %d Go blocks, want main.go and main_test.go", len(blocks))
	}
	dir := t.TempDir()
	files := map[string][]byte{"main.go": blocks[0][1], "main_test.go": blocks[1][1]}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("go", "mod", "init", "example.com/acme")
	run("go", "mod", "edit", "-require", "github.com/metalagent/metalagent@v0.0.0",
		"-replace", "github.com/metalagent/metalagent="+root)
	run("go", "mod", "tidy")
	run("go", "test", "-count=1", "./...")
}
