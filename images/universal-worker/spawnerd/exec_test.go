package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func execOp(argv ...string) map[string]any { return map[string]any{"op": "exec", "argv": argv} }

func TestExecOutputAndExitCode(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	r := c.do(execOp("bash", "-c", "echo out; echo err >&2; exit 3"))
	mustOK(t, r)
	if r.stdout.String() != "out\n" || r.stderr.String() != "err\n" || r.num("exitCode") != 3 {
		t.Fatalf("got %q %q %v", r.stdout.String(), r.stderr.String(), r.end)
	}
	if r.end["signal"] != nil || r.end["timedOut"] != false || r.end["cancelled"] != false || r.end["truncated"] != false {
		t.Fatalf("END %v", r.end)
	}
	if _, ok := r.end["durationMs"].(float64); !ok {
		t.Fatalf("no durationMs: %v", r.end)
	}
	// Without stdin the command reads /dev/null.
	r = c.do(execOp("cat"))
	mustOK(t, r)
	if r.stdout.Len() != 0 || r.num("exitCode") != 0 {
		t.Fatalf("cat without stdin: %q %v", r.stdout.String(), r.end)
	}
}

func TestExecStdin(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, more than a pipe holds
	open := map[string]any{"op": "exec", "argv": []string{"sha256sum"}, "stdin": true}
	r := c.do(open, big[:maxPayload/2], big[maxPayload/2:], nil)
	mustOK(t, r)
	check := c.do(map[string]any{"op": "exec", "argv": []string{"bash", "-c", "head -c 1048576 /dev/stdin | sha256sum"}, "stdin": true}, big, nil)
	if r.stdout.String() != check.stdout.String() || !strings.HasSuffix(r.stdout.String(), " -\n") {
		t.Fatalf("stdin arrived changed: %q vs %q", r.stdout.String(), check.stdout.String())
	}
}

func TestExecEnvAndWorkdir(t *testing.T) {
	os.Setenv("SPAWNERD_LEAK", "x")
	scrubEnv()
	rt := startDaemon(t, nil)
	c := rt.accept()
	dir := t.TempDir()
	r := c.do(map[string]any{
		"op": "exec", "argv": []string{"bash", "-c", `printf '%s|%s|%s|' "$K" "$WORKERS_SPAWNER_EXEC" "$PWD"; env | grep -c ^SPAWNERD_ || true`},
		"env": map[string]string{"K": "V"}, "workdir": dir, "tag": "t1",
	})
	mustOK(t, r)
	if want := "V|t1|" + dir + "|0\n"; r.stdout.String() != want {
		t.Fatalf("got %q, want %q", r.stdout.String(), want)
	}
}

func TestExecStartFailures(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644)
	cases := []struct {
		open map[string]any
		code int64
		says string
	}{
		{execOp("no-such-command-here"), 127, "not found"},
		{execOp(filepath.Join(dir, "missing")), 127, "no such file"},
		{execOp(plain), 126, "permission denied"},
		{execOp(dir), 126, "is a directory"},
		{map[string]any{"op": "exec", "argv": []string{"true"}, "workdir": filepath.Join(dir, "nope")}, 126, "workdir"},
		{map[string]any{"op": "exec", "argv": []string{"true"}, "workdir": plain}, 126, "not a directory"},
		{map[string]any{"op": "exec", "argv": []string{"true"}, "env": map[string]string{"PATH": dir}}, 127, "not found"},
	}
	for _, tc := range cases {
		r := c.do(tc.open)
		mustCode(t, r, "start_failed")
		msg, _ := r.end["message"].(string)
		if r.num("exitCode") != tc.code || !strings.HasPrefix(msg, "spawnerd: ") || !strings.Contains(msg, tc.says) {
			t.Fatalf("%v: %v", tc.open, r.end)
		}
	}
	// A relative program is looked up from the workdir.
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755)
	r := c.do(map[string]any{"op": "exec", "argv": []string{"./run.sh"}, "workdir": dir})
	mustOK(t, r)
	if r.stdout.String() != "ran\n" {
		t.Fatalf("relative program: %q", r.stdout.String())
	}
}

func TestExecOutputCap(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	r := c.do(map[string]any{
		"op": "exec", "argv": []string{"bash", "-c", "head -c 300000 /dev/zero; head -c 10 /dev/zero >&2; echo done >&2"},
		"maxOutputBytes": 1000,
	})
	mustOK(t, r)
	// The command ran to its end (it was never blocked on a full pipe); each stream was cut.
	if r.stdout.Len() != 1000 || r.stderr.String() != strings.Repeat("\x00", 10)+"done\n" || r.end["truncated"] != true || r.num("exitCode") != 0 {
		t.Fatalf("stdout %d bytes, stderr %q, %v", r.stdout.Len(), r.stderr.String(), r.end)
	}
}

// alive says whether pid is still a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// waitDead waits for pid to die; the bound only stops a hang.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still alive", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestExecTimeoutKillsAnEscapedGrandchild(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	// The grandchild leaves the group and the session; only the tag finds it.
	script := `setsid sleep 1000 >/dev/null 2>&1 & echo $!; wait`
	r := c.do(map[string]any{"op": "exec", "argv": []string{"bash", "-c", script}, "timeoutMs": 300, "tag": "escape-test"})
	mustOK(t, r)
	if r.end["timedOut"] != true || r.num("exitCode") != 137 || r.end["signal"] != "KILL" {
		t.Fatalf("END %v", r.end)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(r.stdout.String()))
	if err != nil {
		t.Fatalf("pid: %q", r.stdout.String())
	}
	waitDead(t, pid)

	// Without a tag, what left the group is still found: by the session it stayed in (its
	// output closed), or by the output pipe it holds (having left the session).
	script = `bash -c 'set -m; sleep 1000 >/dev/null 2>&1 & echo $!' & setsid sleep 1001 & echo $!; wait`
	r = c.do(map[string]any{"op": "exec", "argv": []string{"bash", "-c", script}, "timeoutMs": 300})
	mustOK(t, r)
	if r.end["timedOut"] != true {
		t.Fatalf("END %v", r.end)
	}
	pids := strings.Fields(r.stdout.String())
	if len(pids) != 2 {
		t.Fatalf("pids: %q", r.stdout.String())
	}
	for _, p := range pids {
		pid, _ := strconv.Atoi(p)
		if pid == 0 {
			t.Fatalf("pid: %q", p)
		}
		waitDead(t, pid)
	}

	// The one way out: leave the session, close the output and drop the tag. Only that lives.
	r = c.do(map[string]any{"op": "exec", "argv": []string{"bash", "-c", `setsid sleep 1002 >/dev/null 2>&1 & echo $!; wait`}, "timeoutMs": 300})
	mustOK(t, r)
	pid, _ = strconv.Atoi(strings.TrimSpace(r.stdout.String()))
	if pid == 0 || !alive(pid) {
		t.Fatalf("the untagged grandchild %q died", r.stdout.String())
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

func TestExecCancelAndSignal(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	// The command says it is running before the control is sent, so the control cannot
	// arrive before the process exists.
	open := map[string]any{"op": "exec", "argv": []string{"bash", "-c", "echo up; exec sleep 1000"}, "tag": "cancel-test"}
	c.sendJSON(tOpen, open)
	if typ, b := c.read(); typ != tStdout || string(b) != "up\n" {
		t.Fatalf("%d %q", typ, b)
	}
	c.send(tControl, []byte(`{"cancel":true}`))
	r := c.collect()
	mustOK(t, r)
	if r.end["cancelled"] != true || r.num("exitCode") != 137 {
		t.Fatalf("cancel: %v", r.end)
	}
	c.sendJSON(tOpen, open)
	c.read()
	c.send(tControl, []byte(`{"signal":"TERM"}`))
	r = c.collect()
	if r.num("exitCode") != 143 || r.end["signal"] != "TERM" || r.end["cancelled"] != false {
		t.Fatalf("TERM: %v", r.end)
	}
}

func TestExecOutlivesItsConnectionUntilItsTimeout(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	mark := filepath.Join(t.TempDir(), "ran-on")
	// It reads its input to the end, then leaves a mark: only a command that outlived the
	// connection (and got its end of input from it) gets there.
	script := `echo $$; cat >/dev/null; touch "$1"; exec sleep 1000`
	c.sendJSON(tOpen, map[string]any{"op": "exec", "argv": []string{"bash", "-c", script, "bash", mark}, "stdin": true, "timeoutMs": 1500})
	_, b := c.read()
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 0 {
		t.Fatalf("pid: %q", b)
	}
	c.c.Close()
	deadline := time.Now().Add(wait)
	for {
		if _, err := os.Stat(mark); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command did not run on after its connection went")
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitDead(t, pid)
}

func TestExecEndsThoughAChildKeepsWriting(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	// The command exits at once; what it left behind writes to the same pipe without pause.
	r := c.do(map[string]any{"op": "exec", "argv": []string{"bash", "-c", "yes & echo $! >&2"}, "tag": "writer"})
	mustOK(t, r)
	pid, _ := strconv.Atoi(strings.TrimSpace(r.stderr.String()))
	if pid == 0 || r.num("exitCode") != 0 {
		t.Fatalf("END %v, stderr %q", r.end, r.stderr.String())
	}
	killTagged("writer")
	waitDead(t, pid)
}
