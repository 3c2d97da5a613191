package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// errOutOfService matches the error of a call to a plugin that is failed,
// disabled or refused: dispatch skips such a plugin.
var errOutOfService = errors.New("plugin out of service")

// outOfServiceError is the error of a call to a plugin not in service.
type outOfServiceError struct {
	name  string
	state State
	err   error
}

func (e *outOfServiceError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("plugin %s is %s", e.name, e.state)
	}
	return fmt.Sprintf("plugin %s is %s: %v", e.name, e.state, e.err)
}

func (e *outOfServiceError) Is(target error) bool { return target == errOutOfService }

// proc supervises one plugin's process: it hands the current instance to
// calls, and replaces it when it crashes or hangs, with exponential
// backoff, until the plugin crashes too often and is marked failed.
type proc struct {
	h *Host
	c candidate
	// level and version are what the plugin reported at start; they fix
	// its place in the dispatch order.
	level   sdk.SupportLevel
	version sdk.Version

	mu       sync.Mutex
	inst     *instance
	gen      uint64 // incremented with every new instance
	state    State
	verdict  Checksum
	lastErr  error
	restarts int
	crashes  []time.Time   // crashes and hangs within the window
	ready    chan struct{} // closed when a restart ends
	methods  map[string]bool
}

func newProc(h *Host, c candidate, inst *instance, verdict Checksum) *proc {
	ready := make(chan struct{})
	close(ready)
	return &proc{h: h, c: c, level: inst.level, version: inst.version, inst: inst, state: StateRunning,
		verdict: verdict, ready: ready, methods: map[string]bool{}}
}

// acquire returns the instance to call and its generation. It waits for a
// restart in progress, notices a process that died while idle (and
// restarts it), and answers errOutOfService for a plugin not in service.
func (p *proc) acquire(ctx context.Context) (*instance, uint64, error) {
	for {
		p.mu.Lock()
		switch p.state {
		case StateRunning:
			inst, gen := p.inst, p.gen
			p.mu.Unlock()
			if !inst.client.Exited() {
				return inst, gen, nil
			}
			p.fail(gen, pluginErr(nil, "plugin %s exited while idle", p.c.name))
		case StateRestarting:
			ready := p.ready
			p.mu.Unlock()
			select {
			case <-ready:
			case <-ctx.Done():
				return nil, 0, fmt.Errorf("waiting for plugin %s to restart: %w", p.c.name, ctx.Err())
			}
		default:
			err := &outOfServiceError{name: p.c.name, state: p.state, err: p.lastErr}
			p.mu.Unlock()
			return nil, 0, err
		}
	}
}

// inService reports whether calls may reach the plugin (now or after its
// restart).
func (p *proc) inService() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == StateRunning || p.state == StateRestarting
}

// fail handles a crash or hang of instance generation gen: the process is
// killed and restarted in the background, or, at the crash limit, the
// plugin is marked failed. A later report about the same generation is
// ignored, so concurrent calls failing together cause one restart.
func (p *proc) fail(gen uint64, cause error) {
	log := p.h.log.With("plugin", p.c.name)
	p.mu.Lock()
	if gen != p.gen || p.state != StateRunning {
		p.mu.Unlock()
		return
	}
	inst := p.inst
	p.lastErr = cause
	n := p.recordCrash(time.Now())
	if n >= p.h.opts.MaxCrashes {
		p.state = StateFailed
		p.mu.Unlock()
		inst.kill(true)
		log.Error("plugin failed: crashed too often, not restarted; dispatch skips it",
			"crashes", n, "window", p.h.opts.CrashWindow, "error", cause)
		return
	}
	p.state = StateRestarting
	p.ready = make(chan struct{})
	if !p.h.goRestart(p, n) {
		p.state, p.lastErr = StateFailed, errHostClosed
		close(p.ready)
		p.mu.Unlock()
		inst.kill(true)
		return
	}
	p.mu.Unlock()
	inst.kill(true)
	log.Warn("plugin crashed or hung; restarting", "error", cause, "crashes", n, "window", p.h.opts.CrashWindow,
		"backoff", p.h.backoff(n))
}

// recordCrash records a crash at now, forgets those older than the window
// and returns how many remain. Called with p.mu held.
func (p *proc) recordCrash(now time.Time) int {
	keep := p.crashes[:0]
	for _, t := range p.crashes {
		if now.Sub(t) < p.h.opts.CrashWindow {
			keep = append(keep, t)
		}
	}
	p.crashes = append(keep, now)
	return len(p.crashes)
}

// restart starts the plugin again after a backoff, re-evaluating it with
// the same host configuration, until it runs, is refused, reports support
// level 0 or reaches the crash limit. It runs in its own goroutine.
func (p *proc) restart(attempt int) {
	defer p.h.wg.Done()
	log := p.h.log.With("plugin", p.c.name)
	for {
		select {
		case <-time.After(p.h.backoff(attempt)):
		case <-p.h.ctx.Done():
			p.end(StateFailed, errHostClosed)
			return
		}
		start := time.Now()
		inst, verdict, err := p.h.startInstance(p.h.ctx, &p.c)
		p.mu.Lock()
		p.restarts++
		p.verdict = verdict
		var ref *refusal
		switch {
		case p.h.ctx.Err() != nil:
			p.mu.Unlock()
			if inst != nil {
				inst.kill(true)
			}
			p.end(StateFailed, errHostClosed)
			return
		case err == nil && inst.level > sdk.SupportNone:
			p.inst, p.state = inst, StateRunning
			p.gen++
			close(p.ready)
			restarts := p.restarts
			p.mu.Unlock()
			log.Info("plugin restarted", "pid", inst.pid(), "restarts", restarts, "took", time.Since(start))
			if inst.level != p.level || inst.version != p.version {
				log.Warn("plugin reports another support level or version after its restart; its place in the order is kept",
					"level", int(inst.level), "start_level", int(p.level), "version", inst.version, "start_version", p.version)
			}
			return
		case err == nil:
			p.mu.Unlock()
			inst.kill(false)
			p.end(StateDisabled, fmt.Errorf("plugin %s reported support level 0 after its restart", p.c.name))
			log.Warn("plugin reports support level 0 after its restart; disabled")
			return
		case errors.As(err, &ref):
			p.mu.Unlock()
			p.end(StateRefused, err)
			log.Error("plugin refused on restart; not restarted again", append([]any{"error", err}, ref.kv...)...)
			return
		}
		p.lastErr = err
		n := p.recordCrash(time.Now())
		if n >= p.h.opts.MaxCrashes {
			p.mu.Unlock()
			p.end(StateFailed, err)
			log.Error("plugin failed: restart failed too often; dispatch skips it", "crashes", n, "window", p.h.opts.CrashWindow, "error", err)
			return
		}
		attempt = n
		p.mu.Unlock()
		log.Warn("plugin restart failed; retrying", "error", err, "crashes", n, "backoff", p.h.backoff(n))
	}
}

// end ends a restart in a state other than running.
func (p *proc) end(state State, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state, p.lastErr = state, err
	select {
	case <-p.ready:
	default:
		close(p.ready)
	}
}

// learn records the step names the plugin listed, to name it when a step
// only it implements cannot run.
func (p *proc) learn(steps []sdk.Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range steps {
		p.methods[s.Step] = true
	}
}

// implements reports whether the plugin listed method as a step.
func (p *proc) implements(method string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.methods[method]
}

// lastError returns the plugin's last error.
func (p *proc) lastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// stop stops the current instance when the host closes.
func (p *proc) stop() {
	p.mu.Lock()
	inst := p.inst
	p.mu.Unlock()
	if inst != nil {
		inst.stop()
	}
}

// fill copies the plugin's live state into info.
func (p *proc) fill(info *PluginInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	info.State, info.Checksum, info.Restarts = p.state, p.verdict, p.restarts
	if p.inst != nil {
		info.Protocol = p.inst.protocol
		if p.state == StateRunning {
			info.PID = p.inst.pid()
		}
	}
	if p.lastErr != nil {
		info.Error = p.lastErr.Error()
	}
}
