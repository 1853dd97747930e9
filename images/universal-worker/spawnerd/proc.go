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
// tagEnv=tag, scanning /proc again until a scan finds none left or the bound is reached:
// a process that was forking during one scan has its child found by the next.
func killTagged(tag string) {
	want := []byte(tagEnv + "=" + tag)
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
				if environHas(pid, want, buf) {
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
