package main

import (
	"path/filepath"
	"strings"
)

// Bounds of docs/daemon-protocol.md ("Requests").
const (
	maxArgv       = 4096
	maxEnv        = 4096
	maxListBytes  = 1 << 20 // argv and env, each in all
	maxPath       = 4096
	maxRoots      = 64
	maxListLimit  = 10000
	defaultLimit  = 1000
	defaultOutput = 16 << 20
	maxTimeoutMs  = 7 * 24 * 3600 * 1000
	maxFileBytes  = 1 << 40
	maxTag        = 128
)

type execReq struct {
	Op             string            `json:"op"`
	Argv           []string          `json:"argv"`
	Env            map[string]string `json:"env"`
	Workdir        string            `json:"workdir"`
	TimeoutMs      int64             `json:"timeoutMs"`
	Stdin          bool              `json:"stdin"`
	MaxOutputBytes *int64            `json:"maxOutputBytes"`
	Tag            string            `json:"tag"`
}

func (o *execReq) validate() error {
	if err := checkArgv(o.Argv, false); err != nil {
		return err
	}
	if err := checkEnv(o.Env); err != nil {
		return err
	}
	if o.Workdir != "" {
		if err := checkPath("workdir", o.Workdir); err != nil {
			return err
		}
	}
	if o.TimeoutMs < 0 || o.TimeoutMs > maxTimeoutMs {
		return badRequest("timeoutMs: out of range")
	}
	if o.MaxOutputBytes != nil && (*o.MaxOutputBytes < 0 || *o.MaxOutputBytes > maxFileBytes) {
		return badRequest("maxOutputBytes: out of range")
	}
	if o.Tag != "" && !validID(o.Tag, maxTag) {
		return badRequest("tag: 1-%d of [A-Za-z0-9._-]", maxTag)
	}
	return nil
}

type ptyReq struct {
	Op      string            `json:"op"`
	Argv    []string          `json:"argv"`
	Env     map[string]string `json:"env"`
	Workdir string            `json:"workdir"`
	Cols    int               `json:"cols"`
	Rows    int               `json:"rows"`
	Session string            `json:"session"`
}

func (o *ptyReq) validate() error {
	if err := checkArgv(o.Argv, true); err != nil {
		return err
	}
	if err := checkEnv(o.Env); err != nil {
		return err
	}
	if o.Workdir != "" {
		if err := checkPath("workdir", o.Workdir); err != nil {
			return err
		}
	}
	if o.Cols == 0 {
		o.Cols = 80
	}
	if o.Rows == 0 {
		o.Rows = 24
	}
	if !validSize(o.Cols) || !validSize(o.Rows) {
		return badRequest("cols/rows: 1-10000")
	}
	if o.Session != "" && !validID(o.Session, 64) {
		return badRequest("session: not a session id")
	}
	return nil
}

// fileReq is read, write, stat, list and delete; validate refuses the fields the op does not
// take, as if each op had a type of its own.
type fileReq struct {
	Op        string   `json:"op"`
	Path      string   `json:"path"`
	Roots     []string `json:"roots"`
	MaxBytes  *int64   `json:"maxBytes"`
	Mode      *uint32  `json:"mode"`
	Mkdirs    *bool    `json:"mkdirs"`
	Size      *int64   `json:"size"`
	Limit     *int     `json:"limit"`
	Recursive *bool    `json:"recursive"`
}

func (o *fileReq) validate() error {
	if err := checkPath("path", o.Path); err != nil {
		return err
	}
	if err := checkRoots(o.Roots); err != nil {
		return err
	}
	allowed := map[string]string{"read": "maxBytes", "write": "mode mkdirs size", "list": "limit", "delete": "recursive"}[o.Op]
	for name, set := range map[string]bool{
		"maxBytes": o.MaxBytes != nil, "mode": o.Mode != nil, "mkdirs": o.Mkdirs != nil,
		"size": o.Size != nil, "limit": o.Limit != nil, "recursive": o.Recursive != nil,
	} {
		if set && !strings.Contains(" "+allowed+" ", " "+name+" ") {
			return badRequest("%s: unknown field for %s", name, o.Op)
		}
	}
	if o.MaxBytes != nil && (*o.MaxBytes < 0 || *o.MaxBytes > maxFileBytes) {
		return badRequest("maxBytes: out of range")
	}
	if o.Mode != nil && *o.Mode > 0o7777 {
		return badRequest("mode: out of range")
	}
	if o.Op == "write" && o.Size == nil {
		return badRequest("size: required")
	}
	if o.Size != nil && (*o.Size < 0 || *o.Size > maxFileBytes) {
		return badRequest("size: out of range")
	}
	if o.Limit != nil && (*o.Limit < 0 || *o.Limit > maxListLimit) {
		return badRequest("limit: 0-%d", maxListLimit)
	}
	return nil
}

type watchReq struct {
	Op        string   `json:"op"`
	Path      string   `json:"path"`
	Roots     []string `json:"roots"`
	Recursive bool     `json:"recursive"`
}

func (o *watchReq) validate() error {
	if err := checkPath("path", o.Path); err != nil {
		return err
	}
	return checkRoots(o.Roots)
}

func checkArgv(argv []string, optional bool) error {
	if len(argv) == 0 && optional {
		return nil
	}
	if len(argv) < 1 || len(argv) > maxArgv {
		return badRequest("argv: 1-%d entries", maxArgv)
	}
	total := 0
	for _, a := range argv {
		total += len(a) + 1
		if strings.IndexByte(a, 0) >= 0 {
			return badRequest("argv: NUL in an argument")
		}
	}
	if total > maxListBytes {
		return badRequest("argv: more than 1 MiB")
	}
	if argv[0] == "" {
		return badRequest("argv: empty command")
	}
	return nil
}

func checkEnv(env map[string]string) error {
	if len(env) > maxEnv {
		return badRequest("env: at most %d entries", maxEnv)
	}
	total := 0
	for k, v := range env {
		total += len(k) + len(v) + 2
		if !validName(k) {
			return badRequest("env: bad name %q", truncate(k, 64))
		}
		if strings.IndexByte(v, 0) >= 0 {
			return badRequest("env: NUL in %s", k)
		}
	}
	if total > maxListBytes {
		return badRequest("env: more than 1 MiB")
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

func validID(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == '-' || c == '.' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

func checkPath(field, p string) error {
	switch {
	case p == "":
		return badRequest("%s: required", field)
	case len(p) > maxPath:
		return badRequest("%s: longer than %d bytes", field, maxPath)
	case strings.IndexByte(p, 0) >= 0:
		return badRequest("%s: NUL in the path", field)
	case !filepath.IsAbs(p):
		return badRequest("%s: not absolute", field)
	}
	return nil
}

func checkRoots(roots []string) error {
	if len(roots) > maxRoots {
		return badRequest("roots: at most %d", maxRoots)
	}
	for _, r := range roots {
		if err := checkPath("roots", r); err != nil {
			return err
		}
	}
	return nil
}
