// Package sandbox is the one way through which the agent's commands change
// the machine outside the disks it deploys to: files written for the
// system (the rescue password), network interfaces taken down (lockdown),
// EFI boot entries (efibootmgr) and power actions.
//
// Without a sandbox directory every action is real and logged. With one
// (--sandbox DIR), no action touches the machine: each is appended as one
// JSON line to DIR/actions.jsonl (time, command id, action, arguments and
// the effect it would have had), and the files it would have written are
// written under DIR instead (DIR/etc/ipa-rescue-config/ipa-rescue-password
// for /etc/ipa-rescue-config/ipa-rescue-password). Tests and the
// end-to-end rig run the real agent this way on a machine that must not
// be changed.
//
// Disk writes (images, erasure) do not go through the sandbox: the
// allowed-disks list confines them.
package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/plugin-sdk/tool"
)

// ActionsFile is the name of the record of actions in the sandbox
// directory.
const ActionsFile = "actions.jsonl"

// Record is one line of actions.jsonl.
type Record struct {
	// Time is when the action was asked for.
	Time time.Time `json:"time"`
	// CommandID is the id of the agent command that asked for it, when a
	// command did.
	CommandID string `json:"command_id,omitempty"`
	// Action names what was asked: write_file, run, link_down, power.
	Action string `json:"action"`
	// Arguments are the action's arguments: the path and mode of a file,
	// the command line of a program, the interface, the power action.
	Arguments map[string]any `json:"arguments"`
	// Effect says what the action would have done to the machine.
	Effect string `json:"effect"`
}

// Sandbox routes the machine-changing actions. A nil *Sandbox, like one
// made by New with an empty directory, acts on the machine.
type Sandbox struct {
	dir string
	log hclog.Logger

	mu  sync.Mutex
	now func() time.Time
}

// New returns a sandbox recording into dir, which it creates; with dir ""
// it returns a Sandbox whose actions are real.
func New(dir string, log hclog.Logger) (*Sandbox, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Sandbox{log: log, now: time.Now}
	if dir == "" {
		return s, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create sandbox directory: %w", err)
	}
	s.dir = abs
	return s, nil
}

// Enabled reports whether actions are recorded instead of done.
func (s *Sandbox) Enabled() bool { return s != nil && s.dir != "" }

// Dir is the sandbox directory, "" when actions are real.
func (s *Sandbox) Dir() string {
	if s == nil {
		return ""
	}
	return s.dir
}

// Path is where a file meant for path is written: path itself without a
// sandbox, path under the sandbox directory with one.
func (s *Sandbox) Path(path string) string {
	if !s.Enabled() {
		return path
	}
	return filepath.Join(s.dir, filepath.Clean("/"+path))
}

// logger is s's logger, or a null one for a nil Sandbox.
func (s *Sandbox) logger() hclog.Logger {
	if s == nil || s.log == nil {
		return hclog.NewNullLogger()
	}
	return s.log
}

// record appends rec to actions.jsonl. Each line is written with one
// write on a file opened for appending, so that the record stays whole
// lines even if the agent dies.
func (s *Sandbox) record(ctx context.Context, rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.Time = s.now().UTC()
	rec.CommandID = CommandID(ctx)
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("sandbox: encode %s record: %w", rec.Action, err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, ActionsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("sandbox: open record: %w", err)
	}
	_, werr := f.Write(append(line, '\n'))
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("sandbox: record %s: %w", rec.Action, werr)
	}
	if cerr != nil {
		return fmt.Errorf("sandbox: record %s: %w", rec.Action, cerr)
	}
	s.log.Info("sandboxed action recorded", "action", rec.Action, "effect", rec.Effect, "command_id", rec.CommandID)
	return nil
}

// WriteFile writes data to path with perm, creating its directory (mode
// 0755). With a sandbox the file goes to Path(path) and the write is
// recorded with its size, not its content.
func (s *Sandbox) WriteFile(ctx context.Context, path string, data []byte, perm os.FileMode) error {
	target := s.Path(path)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("create directory of %s: %w", target, err)
	}
	if err := os.WriteFile(target, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	if !s.Enabled() {
		s.logger().Info("file written", "path", path, "bytes", len(data))
		return nil
	}
	return s.record(ctx, Record{
		Action:    "write_file",
		Arguments: map[string]any{"path": path, "written_to": target, "bytes": len(data), "mode": fmt.Sprintf("%#o", perm)},
		Effect:    fmt.Sprintf("%s would hold %d bytes", path, len(data)),
	})
}

// Run runs a program that changes the machine through r (tool.Exec in
// the agent): without a sandbox it runs; with one it is recorded with its
// exact command line and effect, does not run, and answers an empty
// output.
func (s *Sandbox) Run(ctx context.Context, r tool.Runner, effect, name string, args ...string) ([]byte, error) {
	if !s.Enabled() {
		return r.Run(ctx, name, args...)
	}
	return nil, s.record(ctx, Record{
		Action:    "run",
		Arguments: map[string]any{"command": tool.CommandLine(name, args...), "argv": append([]string{name}, args...)},
		Effect:    effect,
	})
}

// Do performs an action that is not a file or a program (a power action):
// without a sandbox it calls real; with one it records action, args and
// effect instead.
func (s *Sandbox) Do(ctx context.Context, action string, args map[string]any, effect string, real func() error) error {
	if !s.Enabled() {
		return real()
	}
	return s.record(ctx, Record{Action: action, Arguments: args, Effect: effect})
}

// ReadRecords reads the records of the sandbox directory dir, oldest
// first; no record file is no records.
func ReadRecords(dir string) ([]Record, error) {
	b, err := os.ReadFile(filepath.Join(dir, ActionsFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read sandbox records: %w", err)
	}
	var out []Record
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var r Record
		if err := dec.Decode(&r); err != nil {
			return out, fmt.Errorf("sandbox record %d: %w", len(out)+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}
