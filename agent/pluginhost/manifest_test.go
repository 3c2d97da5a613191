package pluginhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

const sumA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseManifest(t *testing.T) {
	entry := func(fields string) string { return `{"plugins":[` + fields + `]}` }
	ok := `{"name":"generic","file":"generic","sha256":"` + sumA + `","protocol_version":1}`
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "valid", in: entry(ok)},
		{name: "no plugins", in: `{"plugins":[]}`},
		{name: "not JSON", in: `{`, wantErr: "decode manifest"},
		{name: "a bare list", in: `[` + ok + `]`, wantErr: "decode manifest"},
		{name: "trailing data", in: entry(ok) + `{}`, wantErr: "trailing data"},
		{name: "misspelt key", in: entry(`{"name":"g","file":"g","sha":"` + sumA + `","protocol_version":1}`), wantErr: "unknown field"},
		{name: "no name", in: entry(`{"file":"g","sha256":"` + sumA + `","protocol_version":1}`), wantErr: "no name"},
		{name: "path in file", in: entry(`{"name":"g","file":"../bin/g","sha256":"` + sumA + `","protocol_version":1}`), wantErr: "file name within"},
		{name: "dot dot", in: entry(`{"name":"g","file":"..","sha256":"` + sumA + `","protocol_version":1}`), wantErr: "file name within"},
		{name: "lists itself", in: entry(`{"name":"g","file":"manifest.json","sha256":"` + sumA + `","protocol_version":1}`), wantErr: "itself"},
		{name: "short sha", in: entry(`{"name":"g","file":"g","sha256":"abc","protocol_version":1}`), wantErr: "64 lower-case hex"},
		{name: "upper-case sha", in: entry(`{"name":"g","file":"g","sha256":"` + strings.ToUpper(sumA) + `","protocol_version":1}`), wantErr: "64 lower-case hex"},
		{name: "non-hex sha", in: entry(`{"name":"g","file":"g","sha256":"` + strings.Repeat("z", 64) + `","protocol_version":1}`), wantErr: "64 lower-case hex"},
		{name: "no protocol", in: entry(`{"name":"g","file":"g","sha256":"` + sumA + `"}`), wantErr: "protocol_version 0"},
		{name: "duplicate name", in: entry(ok + `,{"name":"generic","file":"other","sha256":"` + sumA + `","protocol_version":1}`), wantErr: "name listed twice"},
		{name: "duplicate file", in: entry(ok + `,{"name":"other","file":"generic","sha256":"` + sumA + `","protocol_version":1}`), wantErr: "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBuildManifestRoundTrip(t *testing.T) {
	dir := pluginDir(t, "b-1", "a-2")
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := FileSHA256(testPluginPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := BuildManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{Plugins: []ManifestEntry{
		{Name: "a-2", File: "a-2", SHA256: sum, ProtocolVersion: 1},
		{Name: "b-1", File: "b-1", SHA256: sum, ProtocolVersion: 1},
	}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("built (-want +got):\n%s", diff)
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	// A second build ignores the manifest itself.
	again, err := BuildManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("rebuilt (-want +got):\n%s", diff)
	}
}

func TestDiscover(t *testing.T) {
	type want struct {
		state   State // "" for launchable
		verdict Checksum
		err     string
	}
	sum := sumA
	manifest := func(entries string) string { return `{"plugins":[` + entries + `]}` }
	tests := []struct {
		name     string
		files    []string
		manifest string // "" for none
		require  bool
		want     map[string]want
	}{
		{name: "no manifest", files: []string{"a-1", "b-1"},
			want: map[string]want{"a-1": {verdict: ChecksumNotVerified}, "b-1": {verdict: ChecksumNotVerified}}},
		{name: "no manifest, manifest required", files: []string{"a-1"}, require: true,
			want: map[string]want{"a-1": {StateRefused, ChecksumUnchecked, "manifest is required"}}},
		{name: "invalid manifest fails closed", files: []string{"a-1"}, manifest: `{"plugins":`,
			want: map[string]want{"manifest.json": {StateRefused, ChecksumUnchecked, "invalid manifest"}}},
		{name: "listed, unlisted, missing", files: []string{"a-1", "extra-1"},
			manifest: manifest(`{"name":"a","file":"a-1","sha256":"` + sum + `","protocol_version":1},` +
				`{"name":"gone","file":"gone-1","sha256":"` + sum + `","protocol_version":1}`),
			want: map[string]want{
				"a":       {verdict: ChecksumUnchecked},
				"gone":    {StateFailed, ChecksumUnchecked, "listed in"},
				"extra-1": {StateRefused, ChecksumUnchecked, "not in manifest"},
			}},
		{name: "unsupported protocol", files: []string{"a-1"},
			manifest: manifest(`{"name":"a","file":"a-1","sha256":"` + sum + `","protocol_version":2}`),
			want:     map[string]want{"a": {StateRefused, ChecksumUnchecked, "protocol version 2; this host supports [1]"}}},
		{name: "listed but not executable", files: []string{"a-1"},
			manifest: manifest(`{"name":"r","file":"README","sha256":"` + sum + `","protocol_version":1}`),
			want: map[string]want{
				"r":   {StateFailed, ChecksumUnchecked, "not an executable"},
				"a-1": {StateRefused, ChecksumUnchecked, "not in manifest"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := pluginDir(t, tt.files...)
			if err := os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.manifest != "" {
				if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tt.manifest), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cands, err := discover([]string{dir, filepath.Join(dir, "missing")}, []int{1}, tt.require, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]want{}
			for _, c := range cands {
				w := want{state: c.state, verdict: c.verdict}
				if c.err != nil {
					w.err = c.err.Error()
				}
				got[c.name] = w
			}
			if len(got) != len(tt.want) {
				t.Errorf("candidates = %+v, want %d", got, len(tt.want))
			}
			for name, w := range tt.want {
				g, ok := got[name]
				if !ok || g.state != w.state || g.verdict != w.verdict || !strings.Contains(g.err, w.err) || (w.err == "") != (g.err == "") {
					t.Errorf("%s = %+v, want %+v", name, g, w)
				}
			}
		})
	}
}
