package main

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHelloThenPing(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	r := c.do(map[string]any{"op": "ping"})
	mustOK(t, r)
	if r.num("pid") != int64(os.Getpid()) || r.end["version"] != version || r.num("rssBytes") <= 0 {
		t.Fatalf("ping: %v", r.end)
	}
	// The connection carries the next request too.
	mustOK(t, c.do(map[string]any{"op": "ping"}))
}

func TestRefusedHandshakeIsRetried(t *testing.T) {
	rt := startDaemon(t, nil)
	// A runtime that does not accept the secret closes the connection instead of WELCOME:
	// the daemon dials again (with backoff) and says the same thing.
	for i := 0; i < 3; i++ {
		c := rt.acceptRaw()
		typ, payload := c.read()
		var h helloMsg
		if typ != tHello || json.Unmarshal(payload, &h) != nil || h.Secret != testSecret {
			t.Fatalf("HELLO %d: %d %s", i, typ, payload)
		}
		c.c.Close()
	}
	// A wrong WELCOME is refused by the daemon: it closes and dials again.
	c := rt.acceptRaw()
	c.read()
	c.send(tWelcome, []byte(`{"v":2}`))
	if !c.closed() {
		t.Fatal("a WELCOME of another version was accepted")
	}
	mustOK(t, rt.accept().do(map[string]any{"op": "ping"}))
}

func TestPoolDialsAhead(t *testing.T) {
	rt := startDaemon(t, nil)
	a := rt.accept()
	b := rt.accept() // the second idle connection, dialed ahead
	// A request under way on one of them makes the daemon dial another.
	a.sendJSON(tOpen, map[string]any{"op": "exec", "argv": []string{"cat"}, "stdin": true})
	c := rt.accept()
	mustOK(t, b.do(map[string]any{"op": "ping"}))
	mustOK(t, c.do(map[string]any{"op": "ping"}))
	a.send(tStdin, nil)
	mustOK(t, a.collect())
}

func TestReconnectsWhenTheRuntimeComesBack(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	rt.ln.Close()
	os.Remove(rt.sock)
	c.c.Close()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: rt.sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	rt.ln = ln
	mustOK(t, rt.accept().do(map[string]any{"op": "ping"}))
}

func TestIdleConnectionsBeyondKeepIdleClose(t *testing.T) {
	rt := startDaemon(t, func(c *config) { c.keepIdle = 2; c.idleClose = 100 * time.Millisecond })
	// Four requests at once: the pool grows to six connections.
	var busy []*client
	for i := 0; i < 4; i++ {
		c := rt.accept()
		c.sendJSON(tOpen, map[string]any{"op": "exec", "argv": []string{"cat"}, "stdin": true})
		busy = append(busy, c)
	}
	spare := []*client{rt.accept(), rt.accept()}
	for _, c := range busy {
		c.send(tStdin, nil)
		mustOK(t, c.collect())
	}
	// Six idle, two kept: four close.
	all := append(busy, spare...)
	closed := make(chan bool, len(all))
	for _, c := range all {
		go func(c *client) { closed <- c.closed() }(c)
	}
	for n := 0; n < 4; {
		if !<-closed {
			t.Fatal("fewer than 4 idle connections closed")
		}
		n++
	}
}

func TestOversizedFrameClosesOnlyItsConnection(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	hdr := make([]byte, 5)
	binary.BigEndian.PutUint32(hdr, maxPayload+2)
	hdr[4] = tOpen
	c.c.Write(hdr)
	if !c.closed() {
		t.Fatal("an oversized frame was accepted")
	}
	mustOK(t, rt.accept().do(map[string]any{"op": "ping"}))
}

func TestProtocolViolationsClose(t *testing.T) {
	rt := startDaemon(t, nil)
	cases := map[string]func(c *client){
		"unknown type":      func(c *client) { c.send(42, []byte("{}")) },
		"daemon's type":     func(c *client) { c.send(tStdout, []byte("x")) },
		"WELCOME again":     func(c *client) { c.send(tWelcome, []byte(`{"v":1}`)) },
		"empty frame":       func(c *client) { c.c.Write([]byte{0, 0, 0, 0}) },
		"OPEN not JSON":     func(c *client) { c.send(tOpen, []byte("not json")) },
		"OPEN not object":   func(c *client) { c.send(tOpen, []byte(`["ping"]`)) },
		"control unknown":   func(c *client) { c.send(tControl, []byte(`{"cancel":true,"x":1}`)) },
		"control not JSON":  func(c *client) { c.send(tControl, []byte(`{`)) },
		"control two kinds": func(c *client) { c.send(tControl, []byte(`{"cancel":true,"signal":"TERM"}`)) },
		"control bad signal": func(c *client) {
			c.send(tControl, []byte(`{"signal":"STOP"}`))
		},
		"OPEN while busy": func(c *client) {
			c.sendJSON(tOpen, map[string]any{"op": "exec", "argv": []string{"cat"}, "stdin": true})
			c.sendJSON(tOpen, map[string]any{"op": "ping"})
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			c := rt.accept()
			c.t = t
			f(c)
			if !c.closed() {
				t.Fatal("the connection stayed open")
			}
		})
	}
	mustOK(t, rt.accept().do(map[string]any{"op": "ping"}))
}

func TestStdinAndControlAfterEndAreIgnored(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	mustOK(t, c.do(map[string]any{"op": "ping"}))
	c.send(tStdin, []byte("late"))
	c.send(tControl, []byte(`{"cancel":true}`))
	mustOK(t, c.do(map[string]any{"op": "ping"}))
}

func TestBadRequests(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	bigEnv := map[string]string{}
	for i := 0; i <= maxEnv; i++ {
		bigEnv["V"+strconv.Itoa(i)] = "1"
	}
	manyArgs := make([]string, maxArgv+1)
	for i := range manyArgs {
		manyArgs[i] = "x"
	}
	roots := make([]string, maxRoots+1)
	for i := range roots {
		roots[i] = "/tmp"
	}
	cases := []map[string]any{
		{"op": "ping", "extra": 1},
		{"op": "nope"},
		{"op": "exec"},
		{"op": "exec", "argv": []string{}},
		{"op": "exec", "argv": []string{"true"}, "unknown": true},
		{"op": "exec", "argv": manyArgs},
		{"op": "exec", "argv": []string{"echo", "a\x00b"}},
		{"op": "exec", "argv": []string{"true"}, "env": map[string]string{"1BAD": "x"}},
		{"op": "exec", "argv": []string{"true"}, "env": map[string]string{"A-B": "x"}},
		{"op": "exec", "argv": []string{"true"}, "env": bigEnv},
		{"op": "exec", "argv": []string{"true"}, "workdir": "relative"},
		{"op": "exec", "argv": []string{"true"}, "timeoutMs": -1},
		{"op": "exec", "argv": []string{"true"}, "tag": "bad tag"},
		{"op": "read", "path": "relative"},
		{"op": "read", "path": "/" + strings.Repeat("a", maxPath)},
		{"op": "read", "path": "/a\x00b"},
		{"op": "read", "path": "/tmp", "roots": roots},
		{"op": "read", "path": "/tmp", "recursive": true},
		{"op": "read", "path": "/tmp", "maxBytes": -1},
		{"op": "write", "path": "/tmp/x"},
		{"op": "write", "path": "/tmp/x", "size": 1, "mode": 99999},
		{"op": "list", "path": "/tmp", "limit": maxListLimit + 1},
		{"op": "pty", "cols": 0, "rows": 100000},
		{"op": "watch", "path": "/tmp", "roots": []string{"x"}},
	}
	for _, open := range cases {
		r := c.do(open)
		if r.code() != "bad_request" {
			b, _ := json.Marshal(open)
			t.Fatalf("%.200s: %v, want bad_request", b, r.end)
		}
	}
	mustOK(t, c.do(map[string]any{"op": "ping"}))
	// Byte totals cannot be exceeded through a frame of 1 MiB; the checks stand on their own.
	if checkArgv([]string{"a", strings.Repeat("b", maxListBytes)}, false) == nil {
		t.Fatal("argv of more than 1 MiB accepted")
	}
	if checkEnv(map[string]string{"A": strings.Repeat("b", maxListBytes)}) == nil {
		t.Fatal("env of more than 1 MiB accepted")
	}
}
