package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// execRegistry knows the running commands, so that stopping the daemon stops them too.
type execRegistry struct {
	mu   sync.Mutex
	runs map[*running]struct{}
}

type running struct {
	pgid  int
	tag   string
	pipes []string
}

func (e *execRegistry) init() { e.runs = map[*running]struct{}{} }

func (e *execRegistry) add(r *running) {
	e.mu.Lock()
	e.runs[r] = struct{}{}
	e.mu.Unlock()
}

func (e *execRegistry) remove(r *running) {
	e.mu.Lock()
	delete(e.runs, r)
	e.mu.Unlock()
}

func (e *execRegistry) killAll() {
	e.mu.Lock()
	runs := make([]*running, 0, len(e.runs))
	for r := range e.runs {
		runs = append(runs, r)
	}
	e.mu.Unlock()
	for _, r := range runs {
		r.kill()
	}
}

// kill sends SIGKILL to the group, then to everything in the exec's session, holding its
// output pipes or carrying its tag (see killTree).
func (r *running) kill() {
	_ = syscall.Kill(-r.pgid, syscall.SIGKILL)
	killTree(procTree{sid: r.pgid, pipes: r.pipes, tag: r.tag})
}

type execEnd struct {
	OK         bool    `json:"ok"`
	ExitCode   int     `json:"exitCode"`
	Signal     *string `json:"signal"`
	TimedOut   bool    `json:"timedOut"`
	Cancelled  bool    `json:"cancelled"`
	Truncated  bool    `json:"truncated"`
	DurationMs int64   `json:"durationMs"`
}

// commandEnv is the daemon's environment with the request's on top.
func commandEnv(extra map[string]string, tag string) []string {
	base := os.Environ()
	if len(extra) == 0 && tag == "" {
		return base
	}
	env := make([]string, 0, len(base)+len(extra)+1)
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, over := extra[name]; over || tag != "" && name == tagEnv {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	if tag != "" {
		env = append(env, tagEnv+"="+tag)
	}
	return env
}

func envValue(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

func startFailed(code int, format string, a ...any) error {
	return &opError{Code: "start_failed", ExitCode: code, Message: "spawnerd: " + fmt.Sprintf(format, a...)}
}

// prepare finds the program and checks the directory the way a shell would, so that a
// command that cannot start says so with the shell's exit codes (127 not found, 126 not
// executable or no usable directory).
func prepare(argv []string, env []string, workdir string) (string, string, error) {
	if workdir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", "", startFailed(126, "workdir: %v", err)
		}
		workdir = wd
	}
	st, err := os.Stat(workdir)
	if err != nil {
		return "", "", startFailed(126, "workdir %q: %v", workdir, unwrapPath(err))
	}
	if !st.IsDir() {
		return "", "", startFailed(126, "workdir %q: not a directory", workdir)
	}
	if err := syscall.Access(workdir, 1); err != nil {
		return "", "", startFailed(126, "workdir %q: %v", workdir, err)
	}
	name := argv[0]
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(workdir, p)
		}
		return p, workdir, checkExecutable(name, p)
	}
	denied := ""
	for _, dir := range filepath.SplitList(envValue(env, "PATH")) {
		if !filepath.IsAbs(dir) {
			continue // a relative PATH entry would depend on the directory: never used
		}
		p := filepath.Join(dir, name)
		err := checkExecutable(name, p)
		if err == nil {
			return p, workdir, nil
		}
		var oe *opError
		if errors.As(err, &oe) && oe.ExitCode == 126 && denied == "" {
			denied = p
		}
	}
	if denied != "" {
		return "", "", startFailed(126, "exec %q: permission denied", denied)
	}
	return "", "", startFailed(127, "exec %q: executable file not found in $PATH", name)
}

func checkExecutable(name, p string) error {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return startFailed(127, "exec %q: no such file or directory", name)
		}
		return startFailed(126, "exec %q: %v", name, unwrapPath(err))
	}
	if st.IsDir() {
		return startFailed(126, "exec %q: is a directory", name)
	}
	if syscall.Access(p, 1) != nil {
		return startFailed(126, "exec %q: permission denied", name)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// startError maps what execve said.
func startError(name string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno == syscall.ENOENT {
		return startFailed(127, "exec %q: %v", name, errno)
	}
	return startFailed(126, "exec %q: %v", name, unwrapPath(err))
}

func (d *daemon) runExec(r *req, o *execReq) {
	env := commandEnv(o.Env, o.Tag)
	path, dir, err := prepare(o.Argv, env, o.Workdir)
	if err != nil {
		r.fail(err)
		return
	}
	limit := int64(defaultOutput)
	if o.MaxOutputBytes != nil {
		limit = *o.MaxOutputBytes
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		r.fail(err)
		return
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		r.fail(err)
		return
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        o.Argv,
		Env:         env,
		Dir:         dir,
		Stdout:      outW,
		Stderr:      errW,
		// A session of its own (so also a group): what it starts stays findable by its
		// session even when it moves to another group and scrubs its environment.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	var inW *os.File
	if o.Stdin {
		var inR *os.File
		if inR, inW, err = os.Pipe(); err != nil {
			closeAll(outR, outW, errR, errW)
			r.fail(err)
			return
		}
		cmd.Stdin = inR
		defer inR.Close()
	}
	started := time.Now()
	err = cmd.Start()
	closeAll(outW, errW)
	if err != nil {
		closeAll(outR, errR, inW)
		r.fail(startError(o.Argv[0], err))
		return
	}
	if cmd.Stdin != nil {
		_ = cmd.Stdin.(*os.File).Close()
	}
	run := &running{pgid: cmd.Process.Pid, tag: o.Tag}
	for _, f := range []*os.File{outR, errR} {
		if name := pipeName(f); name != "" {
			run.pipes = append(run.pipes, name)
		}
	}
	d.execs.add(run)
	defer d.execs.remove(run)

	var truncated atomic.Bool
	var exited atomic.Bool
	var pumps sync.WaitGroup
	pumps.Add(2)
	go pump(r, tStdout, outR, limit, &truncated, &exited, &pumps)
	go pump(r, tStderr, errR, limit, &truncated, &exited, &pumps)
	if inW != nil {
		go feed(r, inW)
	}

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var timeout <-chan time.Time
	if o.TimeoutMs > 0 {
		t := time.NewTimer(time.Duration(o.TimeoutMs) * time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	res := execEnd{OK: true}
	gone := r.gone
	killed := false
wait:
	for {
		select {
		case <-waited:
			break wait
		case <-timeout:
			res.TimedOut = true
			killed = true
			run.kill()
		case <-gone:
			// The runtime went (a service restart): the command runs on, as a `docker exec`
			// does, its output read and dropped, until it ends or its timeout kills it.
			gone = nil
		case c := <-r.ctrl:
			switch {
			case c.Cancel:
				res.Cancelled = true
				killed = true
				run.kill()
			case c.Signal != "":
				_ = syscall.Kill(-run.pgid, sigByName[c.Signal])
			}
		}
	}
	res.DurationMs = time.Since(started).Milliseconds()
	if killed {
		// A tagged process may have been forked while the first scan ran.
		run.kill()
	}
	// What the command wrote is in the pipes now; a child it left behind may hold them open,
	// so the pumps drain what is there and stop (see pump).
	exited.Store(true)
	now := time.Now()
	_ = outR.SetReadDeadline(now)
	_ = errR.SetReadDeadline(now)
	pumps.Wait()
	closeAll(outR, errR)
	if inW != nil {
		_ = inW.Close()
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		name := signalName(ws.Signal())
		res.Signal = &name
		res.ExitCode = 128 + int(ws.Signal())
	default:
		res.ExitCode = ws.ExitStatus()
	}
	res.Truncated = truncated.Load()
	r.end(res)
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// feed writes the request's STDIN frames to the command's stdin; the empty frame closes it.
// It keeps taking frames after a failed write (the command closed its stdin) so that the
// connection's reader is never held up.
func feed(r *req, w *os.File) {
	open := true
	for {
		select {
		case b := <-r.stdin:
			if !open {
				continue
			}
			if len(b) == 0 {
				_ = w.Close()
				open = false
				continue
			}
			if _, err := w.Write(b); err != nil {
				_ = w.Close()
				open = false
			}
		case <-r.gone:
			// Nobody is left to send the rest of its input: it gets its end of input.
			if open {
				_ = w.Close()
			}
			return
		case <-r.done:
			return
		}
	}
}

// maxAfterExit bounds what is read from a pipe once its command has exited (a pipe holds at
// most 1 MiB).
const maxAfterExit = 1 << 20

// readAfterExit reads what is there from a non-blocking pipe or PTY (the file `f`, through
// `rc`), waiting while its program runs. Once `exited` is set it stops waiting and takes what is
// left, at most maxAfterExit bytes in all (counted in `afterExit`): past that, a child the program
// left behind is still writing, and the request is over all the same. ok is false at the end.
func readAfterExit(rc syscall.RawConn, f *os.File, buf []byte, exited *atomic.Bool, afterExit *int) (int, bool) {
	for {
		var n int
		var rerr error
		drained := false
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, rerr = syscall.Read(int(fd), buf)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				if exited.Load() {
					drained = true
					return true
				}
				return false
			}
			return true
		})
		if err != nil {
			// The deadline that says the program exited: look again without waiting.
			_ = f.SetReadDeadline(time.Time{})
			if !exited.Load() {
				return 0, false
			}
			continue
		}
		if drained || rerr != nil || n <= 0 {
			return 0, false // for a PTY, EIO: every slave descriptor is closed
		}
		if exited.Load() {
			if *afterExit += n; *afterExit > maxAfterExit {
				return 0, false
			}
		}
		return n, true
	}
}

// pump sends one output stream as frames, cut after limit bytes (the rest is read and
// dropped so the command never blocks on a full pipe). Once the command has exited it reads
// what is left in the pipe without waiting for writers it left behind.
func pump(r *req, typ byte, f *os.File, limit int64, truncated, exited *atomic.Bool, wg *sync.WaitGroup) {
	defer wg.Done()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	var sent int64
	afterExit := 0
	sendOK := true
	for {
		n, ok := readAfterExit(rc, f, buf, exited, &afterExit)
		if !ok {
			return
		}
		chunk := buf[:n]
		if room := limit - sent; int64(n) > room {
			truncated.Store(true)
			chunk = chunk[:max(room, 0)]
		}
		if len(chunk) > 0 && sendOK {
			sent += int64(len(chunk))
			if r.send(typ, chunk) != nil {
				sendOK = false
			}
		}
	}
}
