package image

import (
	"context"
	"fmt"

	"github.com/metalagent/metalagent/agent/ipa"
)

// IPA error classes the image engine reports.
const (
	classInvalidParams = "InvalidCommandParamsError"
	classDownload      = "ImageDownloadError"
	classChecksum      = "ImageChecksumError"
	classWrite         = "ImageWriteError"
)

// newError returns an IPA error of class typ whose chain holds err.
func newError(typ string, err error, format string, a ...any) *ipa.Error {
	e := ipa.New(typ, format, a...)
	e.Err = err
	return e
}

// invalidParams returns an InvalidCommandParamsError wrapping err.
func invalidParams(err error, format string, a ...any) *ipa.Error {
	return newError(classInvalidParams, err, format, a...)
}

// cancelled returns the ImageDownloadError for work stopped by ctx; its
// chain holds ctx.Err(), so errors.Is(err, context.Canceled) works.
func cancelled(ctx context.Context, format string, a ...any) *ipa.Error {
	err := ctx.Err()
	return newError(classDownload, err, "%s cancelled: %v", fmt.Sprintf(format, a...), err)
}
