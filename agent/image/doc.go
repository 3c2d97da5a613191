// Package image is metalagent's image engine: it takes IPA's image_info as
// the conductor sends it, streams the image over HTTP straight onto a block
// device while hashing it, verifies the digest and reports what it wrote.
//
// Download, hashing and writing run concurrently over a small ring of large
// buffers, so memory use stays bounded whatever the image size. A block
// device is written with O_DIRECT from those buffers, bypassing the page
// cache, with a fallback to buffered writes for an unaligned tail or a
// device that refuses direct I/O. A download cut mid-stream resumes with an
// HTTP Range request when the server supports it and restarts from zero
// otherwise. Every failure is an *ipa.Error of the class IPA would report
// (InvalidCommandParamsError, ImageDownloadError, ImageChecksumError or
// ImageWriteError).
package image
