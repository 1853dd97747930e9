package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	maxSessions  = 32
	replayBytes  = 64 << 10
	detachGrace  = 60 * time.Second
	hangupWindow = 500 * time.Millisecond
)

// ptyRegistry holds the PTY sessions, attached or not.
type ptyRegistry struct {
	mu       sync.Mutex
	sessions map[string]*session
	grace    time.Duration
}

func (p *ptyRegistry) init() {
	p.sessions = map[string]*session{}
	p.grace = detachGrace
}

func (p *ptyRegistry) get(id string) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[id]
}

func (p *ptyRegistry) remove(s *session) {
	p.mu.Lock()
	if p.sessions[s.id] == s {
		delete(p.sessions, s.id)
	}
	p.mu.Unlock()
}

func (p *ptyRegistry) killAll() {
	p.mu.Lock()
	all := make([]*session, 0, len(p.sessions))
	for _, s := range p.sessions {
		all = append(all, s)
	}
	p.mu.Unlock()
	for _, s := range all {
		if s.pid > 0 {
			_ = syscall.Kill(-s.pid, syscall.SIGKILL)
		}
	}
}

// session is a program on a PTY. Its output is read all the time, attached or not, into a
// ring of the last 64 KiB that an attach replays first.
type session struct {
	id     string
	pid    int
	master *os.File
	reg    *ptyRegistry

	mu       sync.Mutex
	ring     []byte
	att      *attachment
	exited   bool
	exitCode int
	timer    *time.Timer
	ending   atomic.Bool
}

// attachment is one connection watching a session. Its mutex orders the replay before any
// live output.
type attachment struct {
	mu    sync.Mutex
	r     *req
	ended chan struct{}
	once  sync.Once
}

func (a *attachment) end(v any) {
	a.once.Do(func() {
		a.r.end(v)
		close(a.ended)
	})
}

type ptyExit struct {
	OK       bool `json:"ok"`
	ExitCode int  `json:"exitCode"`
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

type winsize struct{ rows, cols, x, y uint16 }

func setSize(master *os.File, cols, rows int) error {
	ws := winsize{rows: uint16(rows), cols: uint16(cols)}
	return ioctl(master, syscall.TIOCSWINSZ, unsafe.Pointer(&ws))
}

// openPty opens a new master and its slave (the slave blocking, for the child).
func openPty() (*os.File, *os.File, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		master.Close()
		return nil, nil, err
	}
	var n uint32
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		master.Close()
		return nil, nil, err
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	fd, err := syscall.Open(name, syscall.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, os.NewFile(uintptr(fd), name), nil
}

// loginShell is the user's shell from /etc/passwd, else $SHELL, else /bin/sh.
func loginShell() string {
	uid := strconv.Itoa(os.Getuid())
	if f, err := os.Open("/etc/passwd"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 7 && fields[2] == uid && strings.HasPrefix(fields[6], "/") {
				return fields[6]
			}
		}
	}
	if s := os.Getenv("SHELL"); strings.HasPrefix(s, "/") {
		return s
	}
	return "/bin/sh"
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (d *daemon) runPty(r *req, o *ptyReq) {
	if o.Session != "" {
		s := d.ptys.get(o.Session)
		if s == nil {
			r.fail(newError("not_found", "no session %s", o.Session))
			return
		}
		s.serve(r)
		return
	}
	s, err := d.startSession(o)
	if err != nil {
		r.fail(err)
		return
	}
	if err := r.event(struct {
		Session string `json:"session"`
	}{s.id}); err != nil {
		s.detach(nil)
		return
	}
	s.serve(r)
}

func (d *daemon) startSession(o *ptyReq) (*session, error) {
	argv := o.Argv
	if len(argv) == 0 {
		argv = []string{loginShell(), "-l"}
	}
	env := commandEnv(o.Env, "")
	if envValue(env, "TERM") == "" {
		env = append(env, "TERM=xterm-256color")
	}
	path, dir, err := prepare(argv, env, o.Workdir)
	if err != nil {
		return nil, err
	}
	d.ptys.mu.Lock()
	if len(d.ptys.sessions) >= maxSessions {
		d.ptys.mu.Unlock()
		return nil, newError("busy", "%d PTY sessions already", maxSessions)
	}
	s := &session{id: newID(), reg: &d.ptys}
	d.ptys.sessions[s.id] = s // holds the slot while starting
	d.ptys.mu.Unlock()
	fail := func(err error) (*session, error) {
		d.ptys.remove(s)
		return nil, err
	}
	master, slave, err := openPty()
	if err != nil {
		return fail(err)
	}
	_ = setSize(master, o.Cols, o.Rows)
	cmd := &exec.Cmd{
		Path: path, Args: argv, Env: env, Dir: dir,
		Stdin: slave, Stdout: slave, Stderr: slave,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		master.Close()
		return fail(startError(argv[0], err))
	}
	s.pid = cmd.Process.Pid
	s.master = master
	var exited atomic.Bool
	readerDone := make(chan struct{})
	go s.read(&exited, readerDone)
	go func() {
		_ = cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		code := ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		// The program is gone; a child it left may keep the PTY open: take what is there.
		exited.Store(true)
		_ = master.SetReadDeadline(time.Now())
		<-readerDone
		master.Close()
		s.mu.Lock()
		s.exited, s.exitCode = true, code
		att := s.att
		s.mu.Unlock()
		if att != nil {
			s.reg.remove(s)
			att.end(ptyExit{OK: true, ExitCode: code})
		}
	}()
	return s, nil
}

// read copies the PTY's output to the ring and to the attached connection.
func (s *session) read(exited *atomic.Bool, done chan struct{}) {
	defer close(done)
	rc, err := s.master.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	afterExit := 0
	for {
		n, ok := readAfterExit(rc, s.master, buf, exited, &afterExit)
		if !ok {
			return
		}
		chunk := buf[:n]
		s.mu.Lock()
		s.ring = appendRing(s.ring, chunk)
		att := s.att
		s.mu.Unlock()
		if att != nil {
			att.mu.Lock()
			_ = att.r.send(tStdout, chunk)
			att.mu.Unlock()
		}
	}
}

// appendRing keeps the last replayBytes of output.
func appendRing(ring, b []byte) []byte {
	if len(b) >= replayBytes {
		return append(ring[:0], b[len(b)-replayBytes:]...)
	}
	if over := len(ring) + len(b) - replayBytes; over > 0 {
		ring = append(ring[:0], ring[over:]...)
	}
	return append(ring, b...)
}

// serve attaches r to the session until the program exits, the connection goes (detach) or
// another connection attaches.
func (s *session) serve(r *req) {
	a := &attachment{r: r, ended: make(chan struct{})}
	a.mu.Lock()
	s.mu.Lock()
	old := s.att
	s.att = a
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	replay := append([]byte(nil), s.ring...)
	exited, code := s.exited, s.exitCode
	s.mu.Unlock()
	if old != nil {
		old.end(errorResult(newError("busy", "session %s was attached from another connection", s.id)))
	}
	for len(replay) > 0 {
		n := min(len(replay), readChunk)
		_ = r.send(tStdout, replay[:n])
		replay = replay[n:]
	}
	a.mu.Unlock()
	if exited {
		s.reg.remove(s)
		a.end(ptyExit{OK: true, ExitCode: code})
		return
	}
	for {
		select {
		case b := <-r.stdin:
			if len(b) == 0 {
				s.hangup()
				continue
			}
			if !s.ending.Load() {
				_, _ = s.master.Write(b)
			}
		case c := <-r.ctrl:
			switch {
			case c.Resize != nil:
				_ = setSize(s.master, c.Resize.Cols, c.Resize.Rows)
			case c.Signal != "":
				s.signal(sigByName[c.Signal])
			case c.Cancel:
				s.hangup()
			}
		case <-a.ended:
			return
		case <-r.gone:
			s.detach(a)
			return
		}
	}
}

// signal goes to the terminal's foreground process group (what a key like ^C reaches), else
// to the session's.
func (s *session) signal(sig syscall.Signal) {
	var pgrp int32
	if err := ioctl(s.master, syscall.TIOCGPGRP, unsafe.Pointer(&pgrp)); err == nil && pgrp > 0 {
		if syscall.Kill(-int(pgrp), sig) == nil {
			return
		}
	}
	_ = syscall.Kill(-s.pid, sig)
}

// hangup ends the session: SIGHUP to its group, SIGKILL if it is still there shortly after.
func (s *session) hangup() {
	if s.ending.Swap(true) {
		return
	}
	_ = syscall.Kill(-s.pid, syscall.SIGHUP)
	time.AfterFunc(hangupWindow, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.exited {
			_ = syscall.Kill(-s.pid, syscall.SIGKILL)
		}
	})
}

// detach leaves the session running without a connection (a nil a: whatever is attached);
// unless one attaches within the grace period, it is killed.
func (s *session) detach(a *attachment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a != nil && s.att != a {
		return
	}
	s.att = nil
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(s.reg.grace, func() {
		s.mu.Lock()
		attached := s.att != nil
		s.mu.Unlock()
		if attached {
			return
		}
		s.reg.remove(s)
		s.hangup()
	})
}
