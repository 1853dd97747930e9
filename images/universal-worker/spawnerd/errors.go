package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// opError is an END error with one of the protocol's codes.
type opError struct {
	Code     string
	Message  string
	ExitCode int // start_failed only
}

func (e *opError) Error() string { return e.Code + ": " + e.Message }

func badRequest(format string, a ...any) error {
	return &opError{Code: "bad_request", Message: fmt.Sprintf(format, a...)}
}

func newError(code, format string, a ...any) error {
	return &opError{Code: code, Message: fmt.Sprintf(format, a...)}
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorEnd struct {
	OK       bool      `json:"ok"`
	Error    errorBody `json:"error"`
	ExitCode *int      `json:"exitCode,omitempty"`
	Message  string    `json:"message,omitempty"`
}

// errorResult turns any error into an END payload, mapping what the kernel said to the
// protocol's codes.
func errorResult(err error) errorEnd {
	var oe *opError
	if !errors.As(err, &oe) {
		oe = &opError{Code: codeOf(err), Message: err.Error()}
	}
	out := errorEnd{Error: errorBody{Code: oe.Code, Message: truncate(oe.Message, 4096)}}
	if oe.Code == "start_failed" {
		code := oe.ExitCode
		out.ExitCode = &code
		out.Message = out.Error.Message
	}
	return out
}

func codeOf(err error) string {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno) && (errno == syscall.EACCES || errno == syscall.EPERM || errno == syscall.EROFS):
		return "permission_denied"
	case errors.Is(err, fs.ErrNotExist):
		return "not_found"
	case errors.As(err, &errno) && errno == syscall.ENOTDIR:
		return "not_a_directory"
	case errors.As(err, &errno) && errno == syscall.EISDIR:
		return "not_a_file"
	case errors.As(err, &errno) && (errno == syscall.ELOOP):
		return "path_not_allowed"
	}
	return "internal"
}
