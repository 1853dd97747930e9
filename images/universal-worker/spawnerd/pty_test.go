package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// readUntil reads STDOUT frames until their text holds want.
func (c *client) readUntil(want string) string {
	c.t.Helper()
	var seen strings.Builder
	for !strings.Contains(seen.String(), want) {
		typ, b := c.read()
		if typ != tStdout {
			c.t.Fatalf("frame %d (%s) while waiting for %q in %q", typ, b, want, seen.String())
		}
		seen.Write(b)
	}
	return seen.String()
}

func TestPtyEchoResizeDetachAttach(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	c.sendJSON(tOpen, map[string]any{"op": "pty", "argv": []string{"sh"}, "env": map[string]string{"PS1": "$ "}, "cols": 80, "rows": 24})
	typ, b := c.read()
	var ev struct{ Session string }
	if typ != tEvent || json.Unmarshal(b, &ev) != nil || len(ev.Session) != 32 {
		t.Fatalf("first frame %d %s, want the session EVENT", typ, b)
	}
	// The arithmetic proves a shell ran it: the echo of the typed line does not hold "hi-2".
	c.send(tStdin, []byte("echo hi-$((1+1)); tty; stty size\n"))
	out := c.readUntil("24 80")
	if !strings.Contains(out, "hi-2") || !strings.Contains(out, "/dev/pts/") {
		t.Fatalf("pty output %q", out)
	}
	c.send(tControl, []byte(`{"resize":{"cols":100,"rows":30}}`))
	c.send(tStdin, []byte("stty size; echo marker-$((2+2))\n"))
	if out := c.readUntil("marker-4"); !strings.Contains(out, "30 100") {
		t.Fatalf("after resize: %q", out)
	}

	// Detach: the session keeps running; an attach replays what it said.
	c.c.Close()
	c2 := rt.accept()
	c2.sendJSON(tOpen, map[string]any{"op": "pty", "session": ev.Session})
	c2.readUntil("hi-2")
	c2.send(tStdin, []byte("echo again-$((3+3))\n"))
	c2.readUntil("again-6")
	// A second attach takes the session over; the first is told.
	c3 := rt.accept()
	c3.sendJSON(tOpen, map[string]any{"op": "pty", "session": ev.Session})
	mustCode(t, c2.collectSkippingOutput(), "busy")
	c3.readUntil("again-6")
	c3.send(tStdin, []byte("exit 7\n"))
	r := c3.collectSkippingOutput()
	mustOK(t, r)
	if r.num("exitCode") != 7 {
		t.Fatalf("exit: %v", r.end)
	}
	mustCode(t, rt.accept().do(map[string]any{"op": "pty", "session": ev.Session}), "not_found")
}

func TestPtyEmptyStdinEndsTheSession(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	c.sendJSON(tOpen, map[string]any{"op": "pty", "argv": []string{"sh", "-c", "trap '' HUP; echo ready; exec sleep 1000"}})
	c.read() // session
	c.readUntil("ready")
	c.send(tStdin, nil)
	r := c.collectSkippingOutput()
	mustOK(t, r)
	if code := r.num("exitCode"); code != 128+9 && code != 128+1 {
		t.Fatalf("END %v", r.end)
	}
}

func TestPtyDetachGraceKills(t *testing.T) {
	rt := startDaemon(t, nil)
	rt.d.ptys.grace = 0
	c := rt.accept()
	c.sendJSON(tOpen, map[string]any{"op": "pty", "argv": []string{"sh", "-c", "echo $$; exec sleep 1000"}})
	c.read()
	out := c.readUntil("\n")
	pid := atoiPrefix(out)
	c.c.Close()
	waitDead(t, pid)
}

func TestPtyLimit(t *testing.T) {
	rt := startDaemon(t, nil)
	var held []*client
	for i := 0; i < maxSessions; i++ {
		c := rt.accept()
		c.sendJSON(tOpen, map[string]any{"op": "pty", "argv": []string{"sleep", "1000"}})
		if typ, _ := c.read(); typ != tEvent {
			t.Fatalf("session %d: frame %d", i, typ)
		}
		held = append(held, c)
	}
	mustCode(t, rt.accept().do(map[string]any{"op": "pty", "argv": []string{"true"}}), "busy")
	for _, c := range held {
		c.send(tStdin, nil)
		mustOK(t, c.collectSkippingOutput())
	}
}

func atoiPrefix(s string) int {
	n := 0
	for _, ch := range strings.TrimSpace(s) {
		if ch < '0' || ch > '9' {
			break
		}
		n = n*10 + int(ch-'0')
	}
	return n
}

// collectSkippingOutput reads to END, whatever output comes first.
func (c *client) collectSkippingOutput() *result { return c.collect() }
