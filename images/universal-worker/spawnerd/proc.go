package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tagEnv marks everything an exec started, so that it can be found after leaving its group.
const tagEnv = "WORKERS_SPAWNER_EXEC"

// killTagged sends SIGKILL to every process (but this one) whose initial environment holds
// tagEnv=tag (see killTree).
func killTagged(tag string) {
	killTree(procTree{tag: tag})
}

// procTree names what an exec started: its session (the exec is a session leader), the pipes of
// its output, and its tag. A process that left the session and scrubbed its environment is
// still found by the pipe it holds; one that closed its output is still in the session.
type procTree struct {
	sid   int
	pipes []string
	tag   string
}

// killTree sends SIGKILL to every process (but this one) that is in the tree's session, holds
// one of its pipes or carries its tag, scanning /proc again until a scan finds none left or
// the bound is reached: a process that was forking during one scan has its child found by
// the next.
func killTree(t procTree) {
	var want []byte
	if t.tag != "" {
		want = []byte(tagEnv + "=" + t.tag)
	}
	self := os.Getpid()
	deadline := time.Now().Add(2 * time.Second)
	buf := bufio.NewReaderSize(nil, 4096)
	for round := 0; round < 100 && time.Now().Before(deadline); round++ {
		found := 0
		dir, err := os.Open("/proc")
		if err != nil {
			return
		}
		for {
			names, err := dir.Readdirnames(256)
			for _, name := range names {
				pid, err := strconv.Atoi(name)
				if err != nil || pid == self {
					continue
				}
				if (t.sid > 0 && sessionOf(pid) == t.sid) ||
					(len(t.pipes) > 0 && holdsAny(pid, t.pipes)) ||
					(want != nil && environHas(pid, want, buf)) {
					found++
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			if err != nil || len(names) == 0 {
				break
			}
		}
		_ = dir.Close()
		if found == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sessionOf is a process's session id from /proc/<pid>/stat (0 when it cannot be read). The
// command name may hold spaces and parentheses, so the fields are counted after the last ')'.
func sessionOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	// state ppid pgrp session …
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 4 {
		return 0
	}
	sid, _ := strconv.Atoi(fields[3])
	return sid
}

// holdsAny tells whether one of a process's open files is one of the pipes (`pipe:[inode]`).
func holdsAny(pid int, pipes []string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	for {
		names, err := f.Readdirnames(256)
		for _, name := range names {
			link, lerr := os.Readlink(dir + "/" + name)
			if lerr != nil {
				continue
			}
			for _, p := range pipes {
				if link == p {
					return true
				}
			}
		}
		if err != nil || len(names) == 0 {
			return false
		}
	}
}

// pipeName is how /proc/<pid>/fd names the pipe `f` is an end of, or "" when it cannot tell.
// It goes through SyscallConn: Fd() would put the file in blocking mode and end its deadlines.
func pipeName(f *os.File) string {
	rc, err := f.SyscallConn()
	if err != nil {
		return ""
	}
	var st syscall.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstat(int(fd), &st) }); err != nil || serr != nil {
		return ""
	}
	return "pipe:[" + strconv.FormatUint(st.Ino, 10) + "]"
}

// environHas streams /proc/<pid>/environ looking for one exact entry, in bounded memory.
func environHas(pid int, want []byte, buf *bufio.Reader) bool {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	defer f.Close()
	buf.Reset(f)
	for {
		entry, err := buf.ReadSlice(0)
		if err == bufio.ErrBufferFull {
			// Longer than any tag entry: skip to its end.
			for err == bufio.ErrBufferFull {
				_, err = buf.ReadSlice(0)
			}
			if err != nil {
				return false
			}
			continue
		}
		if len(entry) > 0 && entry[len(entry)-1] == 0 {
			entry = entry[:len(entry)-1]
		}
		if bytes.Equal(entry, want) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// rssBytes is this process's resident set, from /proc/self/statm.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

type pingEnd struct {
	OK       bool   `json:"ok"`
	Pid      int    `json:"pid"`
	Version  string `json:"version"`
	RssBytes int64  `json:"rssBytes"`
}

func pingResult() pingEnd {
	return pingEnd{OK: true, Pid: os.Getpid(), Version: version, RssBytes: rssBytes()}
}

var sigByName = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP,
}

// signalName is a signal's name as CONTROL spells them (no SIG prefix).
func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "HUP", syscall.SIGINT: "INT", syscall.SIGQUIT: "QUIT", syscall.SIGILL: "ILL",
		syscall.SIGTRAP: "TRAP", syscall.SIGABRT: "ABRT", syscall.SIGBUS: "BUS", syscall.SIGFPE: "FPE",
		syscall.SIGKILL: "KILL", syscall.SIGUSR1: "USR1", syscall.SIGSEGV: "SEGV", syscall.SIGUSR2: "USR2",
		syscall.SIGPIPE: "PIPE", syscall.SIGALRM: "ALRM", syscall.SIGTERM: "TERM", syscall.SIGXCPU: "XCPU",
		syscall.SIGXFSZ: "XFSZ", syscall.SIGSYS: "SYS",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}
