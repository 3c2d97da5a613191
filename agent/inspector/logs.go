package inspector

import "context"

// collectLogs is IPA's logs collector: the log bundle, base64 of a
// gzipped tar, under "logs". Like IPA's, it never fails the inspection:
// a bundle that cannot be built is only logged.
func collectLogs(ctx context.Context, e *env) error {
	if e.o.Logs == nil {
		e.log.Warn("no log bundle available; logs not sent")
		return nil
	}
	archive, err := e.o.Logs(ctx)
	if err != nil {
		e.log.Warn("log bundle not collected; logs not sent", "error", err)
		return nil
	}
	e.set("logs", archive)
	return nil
}
