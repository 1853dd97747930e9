package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests play the runtime: they listen on a Unix socket in a temporary directory and speak
// the protocol to the real daemon code, which dials them.

const testSecret = "test-secret"

// wait bounds every wait on the daemon; the tests wait for states, this only stops a hang.
const wait = 30 * time.Second

type runtimeSide struct {
	t    *testing.T
	ln   *net.UnixListener
	sock string
	d    *daemon
}

func startDaemon(t *testing.T, tune func(*config)) *runtimeSide {
	t.Helper()
	// A short directory: socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "d.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig(sock, testSecret)
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := newDaemon(ctx, cfg)
	done := make(chan struct{})
	go func() {
		d.run()
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		ln.Close()
		os.RemoveAll(dir)
	})
	return &runtimeSide{t: t, ln: ln, sock: sock, d: d}
}

// acceptRaw takes the next connection the daemon dials, before any handshake.
func (rt *runtimeSide) acceptRaw() *client {
	rt.t.Helper()
	_ = rt.ln.SetDeadline(time.Now().Add(wait))
	c, err := rt.ln.Accept()
	if err != nil {
		rt.t.Fatalf("no connection from the daemon: %v", err)
	}
	rt.t.Cleanup(func() { c.Close() })
	return &client{t: rt.t, c: c}
}

// accept takes the next connection and shakes hands.
func (rt *runtimeSide) accept() *client {
	rt.t.Helper()
	c := rt.acceptRaw()
	typ, payload := c.read()
	if typ != tHello {
		rt.t.Fatalf("first frame is %d, want HELLO", typ)
	}
	var h helloMsg
	if err := json.Unmarshal(payload, &h); err != nil {
		rt.t.Fatal(err)
	}
	if h.V != 1 || h.Secret != testSecret || h.Pid != os.Getpid() || !strings.HasPrefix(h.Version, "spawnerd ") {
		rt.t.Fatalf("bad HELLO %s", payload)
	}
	c.send(tWelcome, []byte(`{"v":1}`))
	return c
}

type client struct {
	t *testing.T
	c net.Conn
}

func (c *client) send(typ byte, payload []byte) {
	c.t.Helper()
	hdr := make([]byte, 5, 5+len(payload))
	binary.BigEndian.PutUint32(hdr, uint32(len(payload)+1))
	hdr[4] = typ
	if _, err := c.c.Write(append(hdr, payload...)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendJSON(typ byte, v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(typ, b)
}

// readErr reads one daemon → runtime frame.
func (c *client) readErr() (byte, []byte, error) { return c.readWithin(wait) }

// readWithin reads one frame, giving up after d.
func (c *client) readWithin(d time.Duration) (byte, []byte, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	var hdr [5]byte
	if _, err := io.ReadFull(c.c, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 || n > maxPayload+1 {
		return 0, nil, errFrame
	}
	payload := make([]byte, n-1)
	if _, err := io.ReadFull(c.c, payload); err != nil {
		return 0, nil, err
	}
	return hdr[4], payload, nil
}

func (c *client) read() (byte, []byte) {
	c.t.Helper()
	typ, payload, err := c.readErr()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return typ, payload
}

// closed says whether the daemon closed the connection (reading gives EOF, not a frame).
func (c *client) closed() bool {
	for {
		_, _, err := c.readErr()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false
			}
			return true
		}
	}
}

// result is everything a request answered.
type result struct {
	stdout, stderr bytes.Buffer
	events         []map[string]any
	end            map[string]any
	frames         []byte // the order of the frame types
}

func (r *result) code() string {
	if e, ok := r.end["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

func (r *result) num(k string) int64 {
	f, _ := r.end[k].(float64)
	return int64(f)
}

// collect reads frames up to and including END.
func (c *client) collect() *result {
	c.t.Helper()
	r := &result{}
	for {
		typ, payload := c.read()
		r.frames = append(r.frames, typ)
		switch typ {
		case tStdout:
			r.stdout.Write(payload)
		case tStderr:
			r.stderr.Write(payload)
		case tEvent:
			var ev map[string]any
			if err := json.Unmarshal(payload, &ev); err != nil {
				c.t.Fatal(err)
			}
			r.events = append(r.events, ev)
		case tEnd:
			if err := json.Unmarshal(payload, &r.end); err != nil {
				c.t.Fatal(err)
			}
			return r
		default:
			c.t.Fatalf("unexpected frame %d", typ)
		}
	}
}

// do sends one OPEN (and stdin, when given) and collects the answer.
func (c *client) do(open any, stdin ...[]byte) *result {
	c.t.Helper()
	c.sendJSON(tOpen, open)
	for _, b := range stdin {
		c.send(tStdin, b)
	}
	return c.collect()
}

func mustOK(t *testing.T, r *result) {
	t.Helper()
	if ok, _ := r.end["ok"].(bool); !ok {
		t.Fatalf("END not ok: %v (stderr %q)", r.end, r.stderr.String())
	}
}

func mustCode(t *testing.T, r *result, code string) {
	t.Helper()
	if got := r.code(); got != code {
		t.Fatalf("END %v, want error %s", r.end, code)
	}
}
