package agent

import (
	"sync"
)

// LogBuffer keeps the last bytes of the agent's log in memory, for
// log.collect_system_logs. It is an io.Writer safe for concurrent use.
type LogBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

// NewLogBuffer returns a buffer keeping at most limit bytes.
func NewLogBuffer(limit int) *LogBuffer { return &LogBuffer{limit: limit} }

// Write appends p, dropping the oldest bytes beyond the limit.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// Bytes returns a copy of the kept log.
func (b *LogBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
