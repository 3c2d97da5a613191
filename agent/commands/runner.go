// Package commands is the agent's command runner and IPA's extensions: the
// conductor posts "<extension>.<command>" with params; sync commands answer
// in the request, async ones run in the background one at a time and their
// results are kept by id.
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/sandbox"
)

// Status is a command's command_status.
type Status string

// The statuses IPA reports.
const (
	StatusRunning         Status = "RUNNING"
	StatusSucceeded       Status = "SUCCEEDED"
	StatusFailed          Status = "FAILED"
	StatusVersionMismatch Status = "CLEAN_VERSION_MISMATCH"
)

// Params are a command's parameters: the JSON object of the request.
type Params map[string]json.RawMessage

// Decode unmarshals parameter name into v; an absent or null parameter
// leaves v unchanged.
func (p Params) Decode(name string, v any) error {
	raw, ok := p[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return ipa.New("InvalidCommandParamsError", "parameter %s: %v", name, err)
	}
	return nil
}

// Func runs a command and returns its command_result.
type Func func(ctx context.Context, log hclog.Logger, p Params) (any, error)

// Command is one extension command.
type Command struct {
	// Async commands run in the background; the request returns RUNNING.
	Async bool
	// Validate, if set, checks params before the command starts; its error
	// is an HTTP 400.
	Validate func(p Params) error
	Run      Func
}

// Result is a command result as IPA serialises it: exactly these five
// fields.
type Result struct {
	ID            string     `json:"id"`
	CommandName   string     `json:"command_name"`
	CommandStatus Status     `json:"command_status"`
	CommandError  *ipa.Error `json:"command_error"`
	CommandResult any        `json:"command_result"`
}

// entry is a result and its completion signal.
type entry struct {
	res  Result
	done chan struct{}
}

// HTTPError is a refusal to run a command, answered with an HTTP status and
// IPA's fault body.
type HTTPError struct {
	Status  int
	Message string
}

// Error returns the fault string.
func (e *HTTPError) Error() string { return e.Message }

// Runner registers extensions' commands and runs them.
type Runner struct {
	// OnAsyncDone is called after every async command (IPA forces a
	// heartbeat then).
	OnAsyncDone func()
	// Logger receives a line per command, with its id.
	Logger hclog.Logger
	// Metrics counts and times the commands run; nil records nothing.
	Metrics *metrics.Metrics

	ctx      context.Context
	mu       sync.Mutex
	commands map[string]map[string]Command
	order    []*entry
	byID     map[string]*entry
	running  *entry
	// gen counts the changes to the results; written with mu held, read
	// without it by Generation.
	gen atomic.Uint64
}

// NewRunner returns a runner whose async commands run under ctx.
func NewRunner(ctx context.Context, log hclog.Logger) *Runner {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Runner{ctx: ctx, Logger: log, commands: map[string]map[string]Command{}, byID: map[string]*entry{}}
}

// Register adds command ext.name.
func (r *Runner) Register(ext, name string, c Command) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.commands[ext] == nil {
		r.commands[ext] = map[string]Command{}
	}
	r.commands[ext][name] = c
}

// Names lists the registered "ext.command" names.
func (r *Runner) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for ext, cmds := range r.commands {
		for n := range cmds {
			out = append(out, ext+"."+n)
		}
	}
	return out
}

// Execute runs command name with params. A sync command's result is
// final; an async one is RUNNING unless wait is true. Refusals (bad name,
// unknown command, busy agent, invalid params) are *HTTPError.
func (r *Runner) Execute(ctx context.Context, name string, params Params, wait bool) (Result, error) {
	ext, cmdName, ok := strings.Cut(name, ".")
	if !ok || ext == "" || cmdName == "" {
		return Result{}, &HTTPError{http.StatusBadRequest, fmt.Sprintf("Invalid command: Command name must be of the form <extension>.<command>, got %q", name)}
	}
	r.mu.Lock()
	cmds, ok := r.commands[ext]
	if !ok {
		r.mu.Unlock()
		return Result{}, &HTTPError{http.StatusNotFound, fmt.Sprintf("Requested object not found: Extension with id %s not found.", ext)}
	}
	cmd, ok := cmds[cmdName]
	if !ok {
		r.mu.Unlock()
		return Result{}, &HTTPError{http.StatusBadRequest, fmt.Sprintf("Invalid command: Unknown command: %s", name)}
	}
	if r.running != nil {
		busy := r.running.res.CommandName
		r.mu.Unlock()
		return Result{}, &HTTPError{http.StatusConflict, "Agent is busy: executing command " + busy}
	}
	if params == nil {
		params = Params{}
	}
	if cmd.Validate != nil {
		if err := cmd.Validate(params); err != nil {
			r.mu.Unlock()
			return Result{}, validationError(err)
		}
	}
	e := &entry{res: Result{ID: uuid.NewString(), CommandName: cmdName, CommandStatus: StatusRunning}, done: make(chan struct{})}
	r.order = append(r.order, e)
	r.byID[e.res.ID] = e
	r.gen.Add(1)
	if cmd.Async {
		r.running = e
	}
	r.mu.Unlock()

	log := r.Logger.With("command_id", e.res.ID, "command", name)
	if id := RequestID(ctx); id != "" {
		log = log.With("request_id", id)
	}
	log.Info("command started", "async", cmd.Async)
	if !cmd.Async {
		r.finish(e, name, log, cmd, ctx, params)
		return r.snapshot(e), nil
	}
	go func() {
		r.finish(e, name, log, cmd, r.ctx, params)
		if r.OnAsyncDone != nil {
			r.OnAsyncDone()
		}
	}()
	if wait {
		select {
		case <-e.done:
		case <-ctx.Done():
		}
	}
	return r.snapshot(e), nil
}

// validationError is the HTTP refusal for a validator's error: its
// class's 4xx code (404 for a flow naming an unknown extension), else 400.
func validationError(err error) *HTTPError {
	ierr := ipa.From(err, "InvalidCommandParamsError")
	status := http.StatusBadRequest
	if ierr.Code >= 400 && ierr.Code < 500 {
		status = ierr.Code
	}
	return &HTTPError{status, ierr.Error()}
}

// finish runs command name and records its outcome.
func (r *Runner) finish(e *entry, name string, log hclog.Logger, cmd Command, ctx context.Context, p Params) {
	start := time.Now()
	ctx = sandbox.WithCommandID(ctx, e.res.ID)
	out, err := safeRun(hclog.WithContext(ctx, log), log, cmd.Run, p)
	r.Metrics.CommandDone(name, metrics.OutcomeOf(err), time.Since(start))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		ierr := ipa.From(err, "CommandExecutionError")
		e.res.CommandStatus = StatusFailed
		if ierr.Type == "VersionMismatch" {
			e.res.CommandStatus = StatusVersionMismatch
		}
		e.res.CommandError = ierr
		log.Error("command failed", "error_type", ierr.Type, "error", ierr.Error())
	} else {
		// IPA wraps a string result; async results name the command.
		if s, ok := out.(string); ok {
			if cmd.Async {
				s = e.res.CommandName + ": " + s
			}
			out = map[string]string{"result": s}
		}
		e.res.CommandStatus = StatusSucceeded
		e.res.CommandResult = out
		log.Info("command succeeded")
	}
	if r.running == e {
		r.running = nil
	}
	r.gen.Add(1)
	close(e.done)
}

// safeRun runs a command, turning a panic into an error so that one bad
// command never takes the agent down.
func safeRun(ctx context.Context, log hclog.Logger, run Func, p Params) (out any, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("command panicked: %v", rec)
		}
	}()
	return run(ctx, log, p)
}

func (r *Runner) snapshot(e *entry) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return e.res
}

// List returns every result since start, oldest first.
func (r *Runner) List() []Result {
	list, _ := r.ListAt()
	return list
}

// ListAt returns every result since start, oldest first, and the
// generation they are at (see Generation).
func (r *Runner) ListAt() ([]Result, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Result, len(r.order))
	for i, e := range r.order {
		out[i] = e.res
	}
	return out, r.gen.Load()
}

// Generation counts the changes to the results (a command started or
// ended): a list taken at the current generation is still the list. It
// lets the API reuse its last encoding of the list, which the conductor
// polls far more often than it changes.
func (r *Runner) Generation() uint64 { return r.gen.Load() }

// ErrNotFound is returned by Get for an unknown id.
var ErrNotFound = errors.New("command not found")

// Get returns one result; with wait it first waits for the command to end
// (or ctx to end).
func (r *Runner) Get(ctx context.Context, id string, wait bool) (Result, error) {
	r.mu.Lock()
	e, ok := r.byID[id]
	r.mu.Unlock()
	if !ok {
		return Result{}, ErrNotFound
	}
	if wait {
		select {
		case <-e.done:
		case <-ctx.Done():
		}
	}
	return r.snapshot(e), nil
}
